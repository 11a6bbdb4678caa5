/** `ws` ships no types; tests hand its client to @jupyterlab/services as the WebSocket class. */
declare module 'ws' {
  const WebSocket: typeof globalThis.WebSocket;
  export default WebSocket;
}
