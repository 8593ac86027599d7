// Kinesis consumer for Node.js: decodes each record, logs it, and reports
// how many records and bytes the batch held (the stream-processor lab's
// second consumer, beside the Python one).

export const handler = async (event) => {
  const records = event.Records ?? [];
  let bytes = 0;
  let malformed = 0;
  for (const record of records) {
    const data = Buffer.from(record.kinesis.data, "base64");
    bytes += data.length;
    let payload;
    try {
      payload = JSON.parse(data.toString("utf8"));
    } catch {
      malformed += 1;
      payload = data.toString("utf8");
    }
    console.log(JSON.stringify({ partitionKey: record.kinesis.partitionKey, payload }));
  }
  const summary = { records: records.length, bytes, malformed };
  console.log(JSON.stringify(summary));
  return summary;
};
