/** The clock port: every "now" in core comes from here so deadlines can be tested at their edges. */
export interface Clock {
  /** Milliseconds since the Unix epoch, UTC. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
