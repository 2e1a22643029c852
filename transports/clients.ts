import type { TransportName } from '../core/model.ts';
import type { ChatClient, ClientOptions } from './client.ts';
import { PollingClient, type PollingClientOptions } from './polling/client.ts';
import { SocketIoClient, type SocketIoClientOptions } from './socketio/client.ts';
import { SseClient, type SseClientOptions } from './sse/client.ts';
import { WsClient, type WsClientOptions } from './ws/client.ts';

/**
 * The one place that maps a transport's name to its client, so the pages, the tests and the bench
 * swap transports by name. Options a client does not know are ignored by it.
 */
export function createClient(
  name: TransportName,
  options: ClientOptions & Record<string, unknown>,
): ChatClient {
  switch (name) {
    case 'polling':
      return new PollingClient(options as PollingClientOptions);
    case 'sse':
      return new SseClient(options as SseClientOptions);
    case 'ws':
      return new WsClient(options as WsClientOptions);
    case 'socketio':
      return new SocketIoClient(options as SocketIoClientOptions);
    default:
      throw new Error(`the ${name} client is not built yet`);
  }
}
