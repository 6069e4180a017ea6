// Uploads, resumable with the tus 1.0 protocol at /api/v1/uploads: each file goes up in chunks,
// and after a dropped connection (or a pause) the upload asks the server how much arrived and
// continues from there. Where the server has no tus endpoint, files go up with a plain PUT (no
// resume: retry starts over).
import { Upload } from 'tus-js-client';
import { csrfToken } from './api.ts';

export type UploadStatus = 'queued' | 'uploading' | 'paused' | 'failed' | 'done';

export interface UploadItem {
  id: string;
  name: string;
  parentId: string;
  size: number;
  sent: number;
  status: UploadStatus;
  error?: string;
  resumable: boolean;
}

interface Entry {
  item: UploadItem;
  file: File;
  tus?: Upload;
  xhr?: XMLHttpRequest;
}

/** 8 MiB chunks: a cut connection costs at most one chunk. */
export const CHUNK_SIZE = 8 * 1024 * 1024;
const CONCURRENCY = 3;

let tusSupport: Promise<boolean> | undefined;

function hasTus(): Promise<boolean> {
  tusSupport ??= fetch('/api/v1/uploads', { method: 'OPTIONS', credentials: 'same-origin' })
    .then((r) => r.ok && r.headers.has('tus-version'))
    .catch(() => false);
  return tusSupport;
}

type Listener = () => void;

class UploadManager {
  #entries = new Map<string, Entry>();
  #listeners = new Set<Listener>();
  #snapshot: UploadItem[] = [];
  #onFinished = new Set<(item: UploadItem) => void>();

  subscribe = (listener: Listener): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  snapshot = (): UploadItem[] => this.#snapshot;

  onFinished(listener: (item: UploadItem) => void): () => void {
    this.#onFinished.add(listener);
    return () => this.#onFinished.delete(listener);
  }

  add(files: File[], parentId: string): void {
    for (const file of files) {
      const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
      this.#entries.set(id, {
        file,
        item: { id, name: file.name, parentId, size: file.size, sent: 0, status: 'queued', resumable: true },
      });
    }
    this.#changed();
    this.#pump();
  }

  pause(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry || entry.item.status !== 'uploading') {
      return;
    }
    if (entry.tus) {
      void entry.tus.abort();
    }
    entry.xhr?.abort();
    this.#update(entry, { status: 'paused' });
    this.#pump();
  }

  resume(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry || (entry.item.status !== 'paused' && entry.item.status !== 'failed')) {
      return;
    }
    this.#update(entry, { status: 'queued', error: undefined });
    this.#pump();
  }

  cancel(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) {
      return;
    }
    if (entry.tus && entry.item.status !== 'done') {
      void entry.tus.abort(true); // also asks the server to throw away what arrived
    }
    entry.xhr?.abort();
    this.#entries.delete(id);
    this.#changed();
    this.#pump();
  }

  clearFinished(): void {
    for (const [id, entry] of this.#entries) {
      if (entry.item.status === 'done') {
        this.#entries.delete(id);
      }
    }
    this.#changed();
  }

  #pump(): void {
    const active = [...this.#entries.values()].filter((e) => e.item.status === 'uploading').length;
    const waiting = [...this.#entries.values()].filter((e) => e.item.status === 'queued');
    for (const entry of waiting.slice(0, Math.max(0, CONCURRENCY - active))) {
      this.#update(entry, { status: 'uploading' });
      void this.#start(entry);
    }
  }

  async #start(entry: Entry): Promise<void> {
    if (await hasTus()) {
      this.#startTus(entry);
    } else {
      this.#startPut(entry);
    }
  }

  #startTus(entry: Entry): void {
    if (!entry.tus) {
      entry.tus = new Upload(entry.file, {
        endpoint: '/api/v1/uploads',
        chunkSize: CHUNK_SIZE,
        retryDelays: [0, 1000, 3000, 5000, 10000],
        storeFingerprintForResuming: false,
        removeFingerprintOnSuccess: true,
        metadata: {
          filename: entry.file.name,
          parentId: entry.item.parentId,
          filetype: entry.file.type || 'application/octet-stream',
        },
        onBeforeRequest: (req) => {
          const token = csrfToken();
          if (token) {
            req.setHeader('X-CSRF-Token', token);
          }
        },
        onProgress: (sent) => this.#update(entry, { sent }),
        onSuccess: () => this.#finish(entry),
        onError: (error) => this.#fail(entry, tusMessage(error)),
      });
    }
    entry.tus.start();
  }

  #startPut(entry: Entry): void {
    const xhr = new XMLHttpRequest();
    entry.xhr = xhr;
    entry.item.resumable = false;
    xhr.open('PUT', `/api/v1/nodes/${entry.item.parentId}/files/${encodeURIComponent(entry.file.name)}`);
    const token = csrfToken();
    if (token) {
      xhr.setRequestHeader('X-CSRF-Token', token);
    }
    xhr.upload.onprogress = (event) => this.#update(entry, { sent: event.loaded });
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        this.#finish(entry);
      } else {
        let message = `The upload failed (${xhr.status}).`;
        try {
          message = (JSON.parse(xhr.responseText) as { error: { message: string } }).error.message;
        } catch {
          /* keep the generic message */
        }
        this.#fail(entry, message);
      }
    };
    xhr.onerror = () => this.#fail(entry, 'The connection was lost. Check your connection and retry.');
    xhr.send(entry.file);
  }

  #finish(entry: Entry): void {
    this.#update(entry, { status: 'done', sent: entry.item.size });
    this.#onFinished.forEach((l) => l(entry.item));
    this.#pump();
  }

  #fail(entry: Entry, message: string): void {
    if (entry.item.status === 'paused') {
      return;
    }
    this.#update(entry, { status: 'failed', error: message });
    this.#pump();
  }

  #update(entry: Entry, patch: Partial<UploadItem>): void {
    entry.item = { ...entry.item, ...patch };
    this.#changed();
  }

  #changed(): void {
    this.#snapshot = [...this.#entries.values()].map((e) => e.item);
    this.#listeners.forEach((l) => l());
  }
}

function tusMessage(error: Error): string {
  const response = (error as { originalResponse?: { getBody(): string } | null }).originalResponse;
  if (response) {
    try {
      const body = JSON.parse(response.getBody()) as { error?: { message?: string } };
      if (body.error?.message) {
        return body.error.message;
      }
    } catch {
      /* not JSON */
    }
    return 'The server refused the upload. Retry, or reload the page if it keeps failing.';
  }
  return 'The connection was lost. Retry to continue where it stopped.';
}

export const uploads = new UploadManager();
