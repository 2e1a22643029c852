// Lab 03, the book's client (12.2): connect, print what the server sends, answer each message.

const stateView = document.getElementById('state');
const list = document.getElementById('messages');

function show(text) {
  console.info(text);
  const item = document.createElement('li');
  item.textContent = text;
  list.append(item);
}

const webSocket = new WebSocket(`ws://${location.host}`);

webSocket.onopen = () => {
  stateView.textContent = 'open';
  show('서버와 웹소켓 연결 성공! (connected to the server)');
};
webSocket.onmessage = (event) => {
  show(`server: ${event.data}`);
  webSocket.send('클라이언트에서 서버로 답장을 보냅니다 (a reply from the client)');
};
webSocket.onclose = () => {
  stateView.textContent = 'closed';
  show('연결 종료 (closed): the server logs the disconnect and clears this client’s timer');
};

document.getElementById('close').addEventListener('click', () => webSocket.close());
