"""A real SMTP server on loopback for the alert e-mail tests (Debian: python3-aiosmtpd).

Usage: python3 test/support/smtp_sink.py <port> <directory>
Each message received is written to <directory>/<n>.eml (RFC 5322 text, envelope recipients in a
first "X-Envelope-To" line). Prints "ready" once listening; stops on SIGTERM.
"""

import asyncio
import os
import signal
import sys

from aiosmtpd.controller import Controller


class DirectoryHandler:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.directory, f"{self.count:04d}.eml")
        with open(path + ".tmp", "wb") as out:
            out.write(("X-Envelope-To: " + ", ".join(envelope.rcpt_tos) + "\r\n").encode())
            out.write(envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode())
        os.replace(path + ".tmp", path)
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    controller = Controller(DirectoryHandler(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
