/**
 * Every sentence a person reads on the pages, in English. The Korean catalogue (`ko.ts`) has the
 * same keys: its type is derived from this one. A value is a whole sentence or label; `{name}`
 * marks a placeholder that `t()` fills, so a translation may put it anywhere.
 */
export const en = {
  // ---- every page ---------------------------------------------------------------------------
  'site.brand': 'GIF chat',
  'site.title': '{page} · GIF chat',
  'site.language': 'Language',
  /** The link to the page in the other language, written in that language. */
  'site.switchTo': '한국어',
  'form.back': 'Back to the rooms',
  'state.connecting': 'connecting',
  'state.open': 'open',
  'state.closed': 'closed',
  'state.offline': 'offline',
  'state.offlineFor': 'offline {seconds} s',
  'transport.label': 'Transport',
  'transport.current': 'Transport: {name}',
  'transport.try': 'Try:',
  'user.gifFrom': 'GIF from {user}',
  'system.join': '{user} joined',
  'system.exit': '{user} left',
  'system.owner': '{user} is now the owner',

  // ---- lobby --------------------------------------------------------------------------------
  'lobby.title': 'Rooms',
  'lobby.heading': 'Rooms',
  'lobby.create': 'Create a room',
  'lobby.column.title': 'Title',
  'lobby.column.type': 'Type',
  'lobby.column.members': 'Members',
  'lobby.column.owner': 'Owner',
  'lobby.column.enter': 'Enter',
  'lobby.secret': 'secret',
  'lobby.public': 'public',
  'lobby.enter': 'Enter',
  'lobby.empty': 'No rooms yet: create the first one.',
  'lobby.count.one': '{total} room',
  'lobby.count.many': '{total} rooms',
  'lobby.count.newest': '{shown} of {total} rooms (the newest)',

  // ---- new room -----------------------------------------------------------------------------
  'newRoom.title': 'Create a room',
  'newRoom.heading': 'Create a room',
  'newRoom.roomTitle': 'Title',
  'newRoom.max': 'Most members',
  'newRoom.password': 'Password',
  'newRoom.passwordHint': '(optional: a room with one is secret)',
  'newRoom.submit': 'Create',

  // ---- password -----------------------------------------------------------------------------
  'password.intro': 'This room is secret: enter its password.',
  'password.label': 'Password',
  'password.submit': 'Enter',

  // ---- chat ---------------------------------------------------------------------------------
  'chat.leave': 'Leave the room',
  'chat.you': 'You are {user}',
  'chat.messages': 'Messages',
  'chat.whisperingTo': 'Whispering to {user}',
  'chat.stopWhisper': 'Stop whispering',
  'chat.message': 'Message',
  'chat.placeholder': 'Say something',
  'chat.placeholderWhisper': 'Whisper to {user}',
  'chat.send': 'Send',
  'chat.members': 'Members',
  'chat.membersHint': 'Choose a member to whisper to them.',
  'chat.whisperTo': 'whisper to {user}',
  'chat.whispersToYou': 'whispers to you',
  'chat.memberYou': 'You',
  'chat.memberWhisper': 'Whisper to {user}',
  'chat.badgeOwner': '♛ owner',
  'chat.badgeYou': 'you',
  'chat.kick': 'Kick',
  'chat.kickTitle': 'Remove {user} from the room',
  'chat.roomRemoved': 'The room was removed.',
  'chat.cannotConnect': 'Could not connect to the room.',
  'chat.sendFailed': 'Sending failed.',
  'chat.requestFailed': 'The request failed.',
  'client.unconfirmed': 'The server did not confirm the message in time; it may have been sent.',
  'client.lost': 'The connection was lost before the server confirmed the message.',
  'client.closed': 'The client was closed before the server confirmed the message.',

  // ---- compare ------------------------------------------------------------------------------
  'compare.title': 'Compare: {room}',
  'compare.heading': 'Compare the transports',
  'compare.you': 'You are {user}',
  'compare.chatLink': 'this room in the chat page',
  'compare.roomsLink': 'rooms',
  'compare.sendVia': 'Send via',
  'compare.up.polling': 'polling (POST)',
  'compare.up.sse': 'sse (POST)',
  'compare.up.ws': 'ws (a frame)',
  'compare.up.socketio': 'socketio (emit)',
  'compare.message': 'Message',
  'compare.placeholder': 'Say something to every pane',
  'compare.send': 'Send',
  'compare.burst': 'Burst ×100',
  'compare.burstTitle': 'Send 100 messages at once through the chosen transport',
  'compare.upFigures':
    'Way up of polling and SSE, POST /room/…/chat: {postRequests} requests, {postBytes} received (resource timing). Shared routes (/api/stats {http}: pages, POSTs, these stats polls): {httpRequests} requests, in {httpIn}, out {httpOut}.',
  'compare.footnote':
    'Latency is send to arrival on one clock, the page’s: the time from handing a message to the chosen client until each pane receives it, for messages sent from this page, live ones only (recovered ones are counted apart). Server figures count every client of that transport since this page opened, bytes as they crossed the wire (with --workers N, summed over the workers that answered /api/stats). Page figures count only this page’s requests, once they finish (transferSize: headers and body as received): a pending poll or an open SSE stream shows when it ends, and WebSocket frames never do.',
  'compare.drop': 'Drop connection',
  'compare.dropTitle':
    'End the connection as a network failure would; the client resumes by itself',
  'compare.offline': 'Offline 5 s',
  'compare.offlineTitle': 'Close the client for 5 s, then resume from the last seq it saw',
  'compare.latency': 'Latency',
  'compare.latencyNote': 'page clock',
  'compare.latencyFigures': 'last {last} · median {median} ({count} msgs)',
  'compare.server': 'Server',
  'compare.serverFigures': '{requests} requests · in {in} · out {out} · {open} open',
  'compare.page': 'Page',
  'compare.pageNote': 'resource timing',
  'compare.pageFigures': '{requests} finished requests · {bytes} received',
  'compare.pageWs': '{na}: WebSocket frames never show there',
  'compare.notApplicable': 'n/a',
  'compare.connection': 'Connection',
  'compare.connectionFigures': '{reconnects} reconnects · sent {sent}',
  'compare.resume': 'Resume',
  'compare.resumeFigures': 'missed {missed} · recovered {recovered} · duplicated {duplicated}',
  'compare.nothingYet': 'nothing yet',
  'compare.allHere': '{seen} messages: all here, each once',
  'compare.notAllHere': '{missing} missing, {duplicated} twice',
  'compare.chartLabel': 'Latency of the last messages, {name}',
  'compare.worker': 'worker {pid}',
  'compare.workerNote':
    'The worker process (pid) that answered this pane’s last finished request, from its Server-Timing header (--workers N). A long poll may reach a different worker each time; Socket.IO’s requests all reach one (sticky). An open EventSource stream shows once it ends; a WebSocket handshake never does (resource timing leaves it out).',
  'compare.network.polling':
    'Network tab: one row per poll. GET /poll/room/… ?after=N&wait=25 stays pending until a message arrives (or 25 s pass), then the next poll starts at once with after set to the answer’s cursor, so every message costs a whole request and its headers. Sending is a separate POST /room/…/chat (fetch).',
  'compare.network.sse':
    'Network tab: one GET /sse/room/… row of type eventsource that never finishes; its EventStream tab lists each event with its id (the seq). After a drop a new row appears, resuming with ?after=N or the Last-Event-ID header. Sending is a separate POST /room/…/chat, so the way up pays a request per message.',
  'compare.network.ws':
    'Network tab: one GET /ws row, status 101 Switching Protocols, type websocket, that stays open. Its Messages tab shows every frame both ways: subscribe, subscribed, chat with a ref, sent, and the chat events. No new row per message, and sending is a frame, not a request. Frames are not in resource timing: the server counts them.',
  'compare.network.socketio':
    'Network tab: a few /socket.io/?EIO=4&transport=polling requests (the handshake and the /chat namespace), then the upgrade row transport=websocket (101). Its Messages tab shows Engine.IO packets: 42/chat,["chat",{…}] for events, 43… for acknowledgements, and 2/3 for ping and pong.',
  'compare.paneOffline': 'The {name} pane is offline: choose another way up.',
  'compare.sent': 'Sent as seq {seq} via {name}.',
  'compare.sending': 'Sending {count} messages via {name}…',
  'compare.burstDone': 'Burst via {name}: {confirmed} confirmed in {took}.',
  'compare.burstFailed': 'Burst via {name}: {confirmed} confirmed in {took}, {failed} failed.',
  'compare.gapOpen': 'connection lost after seq {seq}: resuming…',
  'compare.gapClosed': 'lost after seq {seq}, back in {took}: {recovered} recovered by resume',

  // ---- error sentences, by ChatError code (core/errors.ts) ----------------------------------
  'error.generic': 'Something went wrong on the server; please try again.',
  'error.notFound': 'There is nothing at this address.',
  'error.roomGone': 'This room does not exist (any more).',
  'error.roomFull': 'The room is full.',
  'error.wrongPassword': 'The password is wrong.',
  'error.needsPassword': 'This room needs its password: enter it first.',
  'error.kicked': 'You were removed from this room by its owner.',
  'error.ownerOnlyRemove': 'Only the owner of the room can remove it.',
  'error.ownerOnlyKick': 'Only the owner can kick a member.',
  'error.ownerSelfKick': 'The owner cannot kick themselves.',
  'error.titleLength': 'The title must be 1 to {max} characters long.',
  'error.chatLength': 'A message must be 1 to {max} characters long.',
  'error.capacity': 'The capacity must be a whole number from {min} to {max}.',
  'error.passwordLength': 'The password must be at most {max} characters long.',
  'error.gifTooLarge': 'The GIF is larger than 5 MiB.',
  'error.notAGif': 'Only GIF images can be uploaded (the file is not a GIF).',
  'error.noGif': 'Choose a GIF to upload (field "gif").',
  'error.noSuchGif': 'There is no such GIF.',
  'error.noSession': 'No session: call GET /api/me first and send its cookie back.',
  'error.shuttingDown': 'The server is shutting down; try again in a moment.',
  'error.redisUnreachable':
    'The shared store (Redis) cannot be reached just now; please try again in a moment.',
  'error.databaseUnreachable': 'The database is not reachable right now; try again in a moment.',
  'error.unreadableBody':
    'The request body could not be read: send JSON, a form, or multipart as documented.',
  'error.tooLarge': 'The request is too large (a GIF may be at most 5 MiB).',
  'error.unsupportedType': 'This content type is not supported here.',
  'host.missing': 'Name this server in the Host header.',
  'host.foreign':
    'This server does not answer to the name "{name}": start it with --allowed-host {flag}.',
  'error.originRefused': 'Requests from another site are refused (Origin check).',
  'error.postsTooFast': 'You are sending too fast: wait {wait} s, then send again.',
  'error.roomsTooFast': 'You are creating rooms too fast: wait {wait} s, then try again.',
  'error.tooManyRooms':
    'You own {most} rooms already: remove one (or leave one empty until it goes) first.',
  'error.passwordsTooFast':
    'Too many password attempts for this room: wait {wait} s, then try again.',
  'error.passwordsFromNetwork':
    'Too many password attempts from your network: wait {wait} s, then try again.',
  'error.sessionsFromNetwork':
    'Too many new sessions from your network: wait {wait} s, and send the session cookie back so you stay one visitor.',
  'error.connectionsFromNetwork':
    'Too many open connections from your network ({open}): close some tabs, then try again.',

  // ---- labs ---------------------------------------------------------------------------------
  // The page of labs 07 and 08 (labs/shared/four-ways): one room, one pane per transport.
  'labs.fourWays.title': 'One room, four ways',
  'labs.fourWays.heading': 'One room, four ways',
  'labs.fourWays.room': 'Room',
  'labs.fourWays.intro':
    "Each pane below follows the room with its own client, over its own transport. Type in any pane: the message goes up that pane's way and comes down every pane with the same seq. Drop cuts a pane's connection as a network failure would: watch it reconnect and catch up from its last seq.",
  'labs.fourWays.chatLinks': "The same room in the app's chat page:",
  'labs.fourWays.roomTitle': 'one room, four ways',
  'labs.fourWays.createFailed': 'No room could be made (POST /room answered {status}).',
  'labs.fourWays.facts': 'state {state} · last seq {lastSeq} · reconnects {reconnects}',
  'labs.fourWays.nothingYet': 'nothing yet',
  'labs.fourWays.allHere': 'seq 1 to {highest}: all here, each once',
  'labs.fourWays.missing':
    'missing {missing} (whispers between others are not for you); twice: {twice}',
  'labs.fourWays.none': 'none',
  'labs.fourWays.drop': 'Drop',
  'labs.fourWays.dropTitle': 'End this connection as a network failure would',
  'labs.fourWays.placeholder': 'Say something over {transport}',
  'labs.fourWays.send': 'Send',
  'labs.fourWays.sendFailed': 'Sending failed.',
  'labs.fourWays.whisper': '{text} (whisper to {to})',
} as const;

/** A key of the catalogues. */
export type MessageKey = keyof typeof en;
/** A catalogue: a sentence for every key of the English one, no more, no fewer. */
export type Catalogue = { readonly [key in MessageKey]: string };
