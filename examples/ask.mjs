// Asks Sluice one question with sluice.js and prints the answer as it streams, with the queue position
// while it waits. Runs as it is with Node 20 or later, against a node started with `swift run sluice`:
//
//   node examples/ask.mjs "Why is the sky blue?"               # http://127.0.0.1:8080, anonymous local use
//   SLUICE_URL=https://sluice.example.edu SLUICE_TOKEN=<a user's JWT> node examples/ask.mjs "…"
//
// Kill the node mid-answer and start it again: the example resumes where it was (Last-Event-ID).
// In a web page it is the same code, importing '/sluice.js' from the node.
import { Sluice } from '../Sources/SluiceServer/Web/sluice.js';

const question = process.argv[2] ?? 'Why is the sky blue?';
const sluice = new Sluice({
  baseURL: process.env.SLUICE_URL ?? 'http://127.0.0.1:8080',
  user: process.env.SLUICE_USER ?? 'example-user',
  token: process.env.SLUICE_TOKEN,
  language: process.env.SLUICE_LANGUAGE ?? 'en',
});

try {
  const job = await sluice.ask({ model: 'default', messages: [{ role: 'user', content: question }] });
  job.addEventListener('queue', (event) => {
    const { state, position } = event.detail;
    console.error(state === 'queued' ? `[queued${position ? `, position ${position}` : ''}]` : '[running]');
  });
  job.addEventListener('delta', (event) => process.stdout.write(event.detail.text));
  job.addEventListener('reset', () => process.stdout.write('\n[the provider failed mid-answer: starting over]\n'));
  job.addEventListener('retrying', (event) => console.error(`[reconnecting in ${Math.round(event.detail.delayMs)} ms]`));
  await job.finished;
  process.stdout.write(`\n[done: job ${job.id}]\n`);
} catch (error) {
  // A SluiceError: the server's message, in the client's language, and its code.
  console.error(`error ${error.status ?? ''} ${error.code}: ${error.message}`);
  process.exitCode = 1;
}
