// The one client for atelier's API: JSON in and out, the session in the HttpOnly cookie,
// `X-Atelier-CSRF: 1` on every write, and errors turned into ApiError with the server's
// sentence (`{"error": {"code", "message"}}`), never raw JSON.
import { t } from './i18n.js';

/** An API failure: `code` is the server's stable code, `message` its sentence. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function failure(response) {
  let code = 'http-' + response.status;
  let message = t('error.status', { status: response.status });
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // Not JSON: keep the generic sentence.
  }
  if (response.status === 401) message = t('error.signin');
  return new ApiError(response.status, code, message);
}

/** Sends a request; `body` is JSON unless it is FormData. Resolves with the parsed answer. */
export async function request(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Atelier-CSRF'] = '1';
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  return type.includes('json') ? response.json() : response.blob();
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const put = (path, body, opts) => request('PUT', path, body, opts);
export const patch = (path, body, opts) => request('PATCH', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

/**
 * Uploads `file` to POST /api/v1/uploads with XMLHttpRequest, whose upload events give real
 * progress: `onprogress(fraction)` hears 0…1. Resolves with the upload record.
 */
export function uploadFile(file, onprogress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/uploads');
    xhr.setRequestHeader('X-Atelier-CSRF', '1');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.withCredentials = true;
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && onprogress) onprogress(e.loaded / e.total);
    });
    xhr.addEventListener('load', async () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(body); return; }
      const err = body && body.error ? body.error : {};
      const message = xhr.status === 401 ? t('error.signin') : err.message || t('error.status', { status: xhr.status });
      reject(new ApiError(xhr.status, err.code || `http-${xhr.status}`, message));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', t('error.network'))));
    const data = new FormData();
    data.append('file', file, file.name || 'file');
    xhr.send(data);
  });
}

/** Builds a FormData from an object (skipping empty values). */
export function form(fields) {
  const data = new FormData();
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null || value === '') continue;
    if (value instanceof Blob) data.append(key, value, value.name || key);
    else data.append(key, String(value));
  }
  return data;
}
