/** Types of on-headers (it ships none): a listener run once, just before a response writes its headers. */
declare module 'on-headers' {
  import type { ServerResponse } from 'node:http';
  function onHeaders(res: ServerResponse, listener: (this: ServerResponse) => void): void;
  export default onHeaders;
}
