"""A local endpoint for scripts/produce-bench.sh: answers GetCallerIdentity
and accepts every Kinesis PutRecords call (one sequence number per entry),
so the benchmark measures the producer, not a stream. Not an emulator and
not used by any test."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDENTITY = (
    "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>123456789012</Account>"
    "<Arn>arn:aws:iam::123456789012:user/bench</Arn><UserId>bench</UserId>"
    "</GetCallerIdentityResult></GetCallerIdentityResponse>"
)


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seq = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        target = self.headers.get("x-amz-target", "")
        if target.endswith("PutRecords"):
            n = len(json.loads(body)["Records"])
            Sink.seq += n
            records = [{"SequenceNumber": str(Sink.seq + k), "ShardId": "shardId-000000000000"} for k in range(n)]
            self.reply(json.dumps({"FailedRecordCount": 0, "Records": records}), "application/x-amz-json-1.1")
        elif b"GetCallerIdentity" in body:
            self.reply(IDENTITY, "text/xml")
        else:
            self.send_response(400)
            self.send_header("content-length", "0")
            self.end_headers()

    def reply(self, text, ctype):
        data = text.encode()
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
