/**
 * `npm run bench`: performance is measured here, never in timed tests, and reported as ratios against a baseline
 * measured in the same run. The dispatcher and chunk-planner benchmarks arrive with their issues (#4, #5).
 */
console.log('no benchmarks yet');
