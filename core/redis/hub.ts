import {
  type DirectoryChange,
  type DirectoryReceiver,
  deliver,
  type Hub,
  type LobbyListener,
  type RoomReceiver,
} from '../hub.ts';
import { logError, logger } from '../log.ts';
import type { LobbyEvent, Message, RoomEvent, UserId } from '../model.ts';
import { storedEvent } from '../room-log.ts';
import { CHANNELS, type SharedRedis } from './shared.ts';

const debug = logger('redis');

/** What the room channel carries: a stored message (its event is read back from it), or an event. */
type RoomPublication =
  | { room: string; message: Message }
  | { room: string; event: RoomEvent; only?: UserId };

/**
 * The hub of many processes: every event goes out on a Redis channel and comes back to every
 * process subscribed to it, this one included, on the one subscriber connection, in the order
 * Redis took them. Pub/sub delivers at most once: what a process misses while Redis is away, it
 * reads from the room's stored log when the subscriptions come back (`onResync`), and a gap in
 * `seq` is read from it at once (RoomLog).
 */
export class RedisHub implements Hub {
  readonly #redis: SharedRedis;
  /** Whether the store publishes each message in the step that stores it (the Redis store). */
  readonly #storePublishes: boolean;
  #rooms: RoomReceiver = () => undefined;
  #directory: DirectoryReceiver = () => undefined;
  readonly #lobby = new Set<LobbyListener>();
  readonly #onMessage = (channel: string, text: string) => this.#received(channel, text);

  private constructor(redis: SharedRedis, storePublishes: boolean) {
    this.#redis = redis;
    this.#storePublishes = storePublishes;
  }

  static async open(redis: SharedRedis, options: { storePublishes: boolean }): Promise<RedisHub> {
    const hub = new RedisHub(redis, options.storePublishes);
    redis.subscriber.on('message', hub.#onMessage);
    await redis.subscriber.subscribe(CHANNELS.room, CHANNELS.lobby, CHANNELS.directory);
    return hub;
  }

  publishRoom(room: string, event: RoomEvent, only?: UserId): void {
    const publication: RoomPublication =
      only === undefined ? { room, event } : { room, event, only };
    this.#publish(CHANNELS.room, publication);
  }

  publishStored(room: string, event: RoomEvent): void {
    if (this.#storePublishes || !('id' in event)) return;
    this.#publish(CHANNELS.room, { room, message: event.data });
  }

  receiveRooms(receiver: RoomReceiver): void {
    this.#rooms = receiver;
  }

  publishLobby(event: LobbyEvent): void {
    this.#publish(CHANNELS.lobby, event);
  }

  subscribeLobby(listener: LobbyListener): () => void {
    this.#lobby.add(listener);
    return () => {
      this.#lobby.delete(listener);
    };
  }

  publishDirectory(change: DirectoryChange): void {
    this.#publish(CHANNELS.directory, change);
  }

  receiveDirectory(receiver: DirectoryReceiver): void {
    this.#directory = receiver;
  }

  onResync(listener: () => void): void {
    this.#redis.onReconnect(listener);
  }

  async close(): Promise<void> {
    this.#redis.subscriber.off('message', this.#onMessage);
    this.#lobby.clear();
  }

  #publish(channel: string, payload: unknown): void {
    // A publication lost while Redis is away is a seq-less event or one the store has (read back on
    // resync); the request that caused it has its answer already.
    // Through `run`: nothing is sent (and kept) while Redis is stalled.
    const text = JSON.stringify(payload);
    this.#redis
      .run((redis) => redis.publish(channel, text))
      .catch((error: Error) => {
        debug('publishing on %s failed: %s', channel, error.message);
      });
  }

  #received(channel: string, text: string): void {
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch (error) {
      logError(`a publication on ${channel} is not JSON`, error);
      return;
    }
    const onError = (error: unknown) => logError('a lobby subscriber failed', error);
    try {
      if (channel === CHANNELS.room) {
        const publication = payload as RoomPublication;
        if ('message' in publication) {
          this.#rooms(publication.room, storedEvent(publication.message), undefined);
        } else {
          this.#rooms(publication.room, publication.event, publication.only);
        }
      } else if (channel === CHANNELS.lobby) {
        deliver(this.#lobby, payload as LobbyEvent, onError);
      } else if (channel === CHANNELS.directory) {
        this.#directory(payload as DirectoryChange);
      }
    } catch (error) {
      logError(`handling a publication on ${channel}`, error);
    }
  }
}
