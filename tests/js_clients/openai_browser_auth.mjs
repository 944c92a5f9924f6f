// The `ws` library (what many JavaScript clients use) connecting as OpenAI's browser clients
// do: the key in the subprotocols `realtime` and `openai-insecure-api-key.<key>`. `ws` aborts
// a handshake whose answer selects none of the offered subprotocols. One text turn.
// argv: the WebSocket URL. Prints the selected subprotocol and the reply as JSON.
import WebSocket from "ws";

const socket = new WebSocket(process.argv[2], ["realtime", "openai-insecure-api-key.local"]);
const result = await new Promise((resolve, reject) => {
  socket.on("error", reject);
  socket.on("message", (data) => {
    const event = JSON.parse(data.toString());
    if (event.type === "session.created") {
      const send = (e) => socket.send(JSON.stringify(e));
      send({ type: "session.update", session: { type: "realtime", output_modalities: ["text"] } });
      send({
        type: "conversation.item.create",
        item: { type: "message", role: "user", content: [{ type: "input_text", text: "Hello." }] },
      });
      send({ type: "response.create" });
    } else if (event.type === "response.done") {
      const text = event.response.output[0].content[0].text;
      resolve({ protocol: socket.protocol, status: event.response.status, text });
    }
  });
});
socket.close();
console.log(JSON.stringify(result));
