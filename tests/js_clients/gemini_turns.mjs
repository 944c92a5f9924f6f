// The official Google Gen AI SDK for JavaScript against rtsession.local: a text turn, then a
// tool call whose schema uses Gemini's own upper-case types (Type.OBJECT, Type.STRING).
// argv: the server's base URL (http://HOST:PORT). Prints one JSON line per turn.
import { GoogleGenAI, Modality, Type } from "@google/genai";

const ai = new GoogleGenAI({ apiKey: "local", httpOptions: { baseUrl: process.argv[2] } });

async function turn(config, text) {
  const messages = [];
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  const session = await ai.live.connect({
    model: "gemini-live-2.5-flash-preview",
    config,
    callbacks: {
      onmessage: (message) => {
        messages.push(message);
        if (message.serverContent?.turnComplete || message.toolCall) done();
      },
      onerror: (error) => done(error),
      onclose: () => done(),
    },
  });
  session.sendClientContent({ turns: [{ role: "user", parts: [{ text }] }], turnComplete: true });
  await finished;
  session.close();
  const said = messages
    .flatMap((m) => m.serverContent?.modelTurn?.parts ?? [])
    .map((p) => p.text ?? "")
    .join("");
  const call = messages.find((m) => m.toolCall)?.toolCall.functionCalls[0] ?? null;
  return { said, call: call && { name: call.name, args: call.args } };
}

const weather = {
  name: "get_weather",
  description: "The weather in a city.",
  parameters: {
    type: Type.OBJECT,
    properties: { city: { type: Type.STRING, description: "The city." } },
    required: ["city"],
  },
};
console.log(JSON.stringify(await turn({ responseModalities: [Modality.TEXT] }, "Hello there.")));
console.log(
  JSON.stringify(
    await turn(
      { responseModalities: [Modality.TEXT], tools: [{ functionDeclarations: [weather] }] },
      "What is the weather in Paris?",
    ),
  ),
);
