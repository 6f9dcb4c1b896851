import { defineTriggers, offpeakJobEvent } from '../src/core/triggers/trigger-config.js';

/**
 * The example triggers shipped with Offpeak (docs/triggers.md explains each kind). The stack deploys them and
 * `npm start` runs them locally: the schedule on the local scheduler, the upload trigger on `.offpeak/drop/hello/`,
 * the webhook at `POST /hooks/github-push` (secret from `.offpeak/secrets.json`), the event trigger on local events.
 */
export const exampleTriggers = defineTriggers({
  schedules: [
    {
      id: 'nightly-backup',
      jobType: 'nightly-backup',
      description: 'Archives the time zone database every night at 02:00 Berlin time',
      expression: 'cron(0 2 * * ? *)',
      timezone: 'Europe/Berlin',
      params: { source: '/usr/share/zoneinfo', label: 'zoneinfo' },
      // Down at 02:00 (a laptop): run the missed backup once at the next start.
      catchUp: 'latest',
    },
  ],
  uploads: [
    {
      id: 'hello-uploads',
      jobType: 'hello',
      description:
        'Greets every object uploaded under inputs/hello/ (locally: files dropped in .offpeak/drop/hello/)',
      prefix: 'hello/',
      mapping: { name: 'detail.object.key' },
    },
  ],
  hooks: [
    {
      id: 'github-push',
      provider: 'github',
      description: 'A push to main greets the pusher',
      // Replace with your secret's ARN (the value is the webhook secret you give GitHub).
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:offpeak/github-hook-AbCdEf',
      jobType: 'hello',
      filter: { events: ['push'], branches: ['main'] },
      mapping: { name: 'pusher.name' },
    },
  ],
  events: [
    {
      id: 'after-nightly-backup',
      jobType: 'hello',
      description: 'Says so when the nightly backup succeeded: a pipeline without code',
      pattern: offpeakJobEvent('nightly-backup', 'Job Succeeded'),
      params: { name: 'the nightly backup' },
    },
  ],
});
