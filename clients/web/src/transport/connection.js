// SPDX-License-Identifier: MPL-2.0
// One WebSocket to the relay (spec/protocol.md §2): binary frames only, request ids from 1,
// replies matched by id, pushes handed to a callback.
import { decode, encode } from '../protocol/codec.js';
import { errname } from '../protocol/errors.js';
import { T } from '../protocol/schema.js';

export class RelayError extends Error {
  constructor(body) {
    super(errname(body.code));
    this.name = 'RelayError';
    this.code = errname(body.code);
    this.det = body.det ?? {};
  }
}

export function relayUrl() {
  const u = new URL('/v1', location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

export class Connection {
  constructor(url, onPush, onClose) {
    this.pending = new Map();
    this.nextRid = 1;
    this.closed = false;
    this.ws = new WebSocket(url, 'wakks.v1');
    this.ws.binaryType = 'arraybuffer';
    this.hello = new Promise((resolve, reject) => { this.helloResolve = resolve; this.helloReject = reject; });
    this.ws.onmessage = (ev) => this.receive(ev.data);
    this.ws.onclose = (ev) => this.closedBy(ev.code);
    this.ws.onerror = () => {};
    this.onPush = onPush;
    this.onClose = onClose;
  }

  receive(data) {
    if (!(data instanceof ArrayBuffer)) return;
    let f;
    try { f = decode(new Uint8Array(data)); } catch { return; /* a bad frame from the relay is dropped */ }
    if (f.type === T.hello) { this.helloResolve(f.body); return; }
    if (f.rid !== 0 && this.pending.has(f.rid)) {
      const p = this.pending.get(f.rid);
      this.pending.delete(f.rid);
      if (f.type === T.error) p.reject(new RelayError(f.body)); else p.resolve(f);
      return;
    }
    if (f.type === T.error) return;
    this.onPush?.(f);
  }

  closedBy(code) {
    if (this.closed) return;
    this.closed = true;
    this.helloReject(new Error('closed'));
    for (const p of this.pending.values()) p.reject(Object.assign(new Error('closed'), { code: 'closed' }));
    this.pending.clear();
    this.onClose?.(code);
  }

  /** Sends a request and resolves with the reply frame; rejects with RelayError or on close. */
  request(type, body = {}) {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(Object.assign(new Error('closed'), { code: 'closed' }));
    }
    const rid = this.nextRid++;
    const bytes = encode(type, rid, body);
    return new Promise((resolve, reject) => {
      this.pending.set(rid, { resolve, reject });
      this.ws.send(bytes);
    });
  }

  close() { try { this.ws.close(1000); } catch { /* already closed */ } this.closedBy(1000); }
}
