// The Ray job of pipeline.yaml: generates training rows for a date window with remote tasks, and prints
// its result as the last line (JSON), which the ray_job op returns as `result`.
import { init, remote, get, shutdown } from '@samsara/ray';

const [start, end] = process.argv.slice(2);
await init(); // joins the cluster the job was submitted to (RAYTS_ADDRESS)
const days = Math.round((Date.parse(end) - Date.parse(start)) / 86_400_000);
const rowsForDay = remote((i) => 100 + i);
const counts = await get(Array.from({ length: days }, (_, i) => rowsForDay.remote(i)));
console.log(`generated ${days} days of data from ${start} to ${end}`);
console.log(JSON.stringify({ rows: counts.reduce((a, b) => a + b, 0), days, start, end }));
await shutdown();
