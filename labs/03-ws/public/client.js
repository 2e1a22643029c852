// Lab 03, the book's client (12.2): connect, print what the server sends, answer each message.
// The book's Korean lines stay as the book writes them; the lab's own follow the page's language.

/** What the lab adds to the book's lines, in the page's language (index.html or index.ko.html). */
const WORDS = {
  en: {
    open: 'open',
    closed: 'closed',
    fromServer: (text) => `server: ${text}`,
    closedLine: 'closed: the server logs the disconnect and clears this client’s timer',
  },
  ko: {
    open: '연결됨',
    closed: '연결 끊김',
    fromServer: (text) => `서버: ${text}`,
    closedLine: '연결 종료: 서버가 접속 해제를 로그에 남기고 이 클라이언트의 타이머를 정리합니다',
  },
};
const say = WORDS[document.documentElement.lang === 'ko' ? 'ko' : 'en'];

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
  stateView.textContent = say.open;
  show('서버와 웹소켓 연결 성공! (connected to the server)');
};
webSocket.onmessage = (event) => {
  show(say.fromServer(event.data));
  webSocket.send('클라이언트에서 서버로 답장을 보냅니다 (a reply from the client)');
};
webSocket.onclose = () => {
  stateView.textContent = say.closed;
  show(say.closedLine);
};

document.getElementById('close').addEventListener('click', () => webSocket.close());
