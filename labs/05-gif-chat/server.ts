/**
 * Lab 05 (12.4 to 12.7, 실시간 GIF 채팅방 만들기): the whole app on one transport, Socket.IO by
 * default as in the book, rooms and messages kept in data/labs/05-gif-chat. Nothing is copied
 * here: the README says where each step of the book lives in core/ and transports/.
 */
import { startLabApp } from '../shared/app.ts';

export function main(args: string[], log: (line: string) => void = console.info) {
  return startLabApp(args, { name: '05-gif-chat', transport: 'socketio', store: 'file' }, log);
}
