/**
 * A URL as it may be shown: in an error, a note, --json. User info
 * (`user:password@`) is replaced by `***@`, so a password given in a URL never
 * reaches a log. Anything that does not parse as a URL is returned with any
 * `scheme://user:pass@` part redacted the same way.
 */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '***';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#]*@/i, '$1***@');
  }
}
