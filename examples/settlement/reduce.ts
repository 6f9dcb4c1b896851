/**
 * End-of-day settlement, reduce step: reads the result manifest of a `settlement-map` job (OFFPEAK_INPUT_URI),
 * adds up the per-chunk totals of every part, and writes one line per merchant bank to
 * `outputs/<reduce job id>/totals.csv` (and to stdout).
 *
 * Each part line is `bank,amountCents,transactions`, as the map step's awk prints it.
 */
import { createAwsClients } from '../../src/aws/clients.js';
import { S3ObjectStore } from '../../src/aws/s3-object-store.js';

const manifestUri = process.env.OFFPEAK_INPUT_URI ?? '';
const bucket = process.env.OFFPEAK_BUCKET ?? '';
const jobId = process.env.OFFPEAK_JOB_ID ?? 'local';
const prefix = `s3://${bucket}/`;
if (!manifestUri.startsWith(prefix)) {
  console.error(`OFFPEAK_INPUT_URI (${manifestUri}) must be a result manifest in s3://${bucket}/`);
  process.exit(2);
}

const clients = createAwsClients();
const objects = new S3ObjectStore({ client: clients.s3, bucket });
try {
  const text = await objects.getText(manifestUri.slice(prefix.length));
  if (text === undefined) throw new Error(`result manifest ${manifestUri} not found`);
  const manifest = JSON.parse(text) as { parts: { key: string }[]; failedChunks: unknown[] };
  const totals = new Map<string, { cents: bigint; count: number }>();
  for (const part of manifest.parts) {
    for (const line of ((await objects.getText(part.key)) ?? '').split('\n')) {
      if (line.trim() === '') continue;
      const [bank, cents, count] = line.split(',');
      if (!bank || cents === undefined || count === undefined)
        throw new Error(`bad part line in ${part.key}: ${line}`);
      const total = totals.get(bank) ?? { cents: 0n, count: 0 };
      total.cents += BigInt(cents);
      total.count += Number(count);
      totals.set(bank, total);
    }
  }
  const csv = [
    'merchant_bank,amount_cents,transactions',
    ...[...totals.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([bank, t]) => `${bank},${t.cents},${t.count}`),
  ].join('\n');
  await objects.put(`outputs/${jobId}/totals.csv`, `${csv}\n`, 'text/csv');
  console.log(csv);
  if (manifest.failedChunks.length > 0)
    console.error(`warning: ${manifest.failedChunks.length} chunk(s) failed`);
} finally {
  clients.destroy();
}
