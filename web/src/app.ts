import { Api, loadConfig } from './api.js';
import { cognitoSignIn } from './cognito.js';
import { errorBox, type View, type ViewContext } from './common.js';
import { h, mount } from './dom.js';
import { deadLettersView } from './views/dead-letters.js';
import { jobView } from './views/job.js';
import { jobsView } from './views/jobs.js';
import { overviewView } from './views/overview.js';
import { pipelinesView } from './views/pipelines.js';
import { queuesView } from './views/queues.js';
import { schedulesView } from './views/schedules.js';

/** Hash routes: `#/jobs/<id>` etc. (hash routing works from any static host, S3 included). */
const routes: { pattern: RegExp; nav: string; view: View }[] = [
  { pattern: /^\/?$/, nav: 'overview', view: overviewView },
  { pattern: /^\/jobs\/?$/, nav: 'jobs', view: jobsView },
  { pattern: /^\/jobs\/(?<id>[^/]+)$/, nav: 'jobs', view: jobView },
  { pattern: /^\/queues\/?$/, nav: 'queues', view: queuesView },
  { pattern: /^\/dead-letters\/?$/, nav: 'dead-letters', view: deadLettersView },
  { pattern: /^\/schedules\/?$/, nav: 'schedules', view: schedulesView },
  { pattern: /^\/pipelines(?:\/(?<id>[^/]+))?$/, nav: 'pipelines', view: pipelinesView },
];

async function start(): Promise<void> {
  const root = document.getElementById('app') as HTMLElement;
  const config = await loadConfig();
  const api = new Api(config);
  if (config.auth === 'cognito') {
    const signedIn = await cognitoSignIn(config, root, document.getElementById('session') as HTMLElement);
    api.useCredentials(signedIn);
  }
  let cleanup: (() => void) | undefined;
  const render = () => {
    cleanup?.();
    const [path = '', search = ''] = window.location.hash.replace(/^#/, '').split('?');
    const route = routes.find((r) => r.pattern.test(path));
    for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
      link.classList.toggle('active', link.dataset.nav === route?.nav);
    }
    if (!route) {
      mount(root, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview')));
      return;
    }
    const timers: number[] = [];
    let left = false;
    const ctx: ViewContext = {
      api,
      root,
      params: { ...(route.pattern.exec(path)?.groups ?? {}) },
      query: new URLSearchParams(search),
      poll(ms, tick) {
        let running = false;
        const run = async () => {
          if (running || left || document.hidden) return;
          running = true;
          try {
            await tick();
          } catch (error) {
            if (!left) root.prepend(errorBox(error));
          } finally {
            running = false;
          }
        };
        void run();
        timers.push(window.setInterval(() => void run(), ms));
      },
    };
    mount(root);
    route.view(ctx);
    cleanup = () => {
      left = true;
      for (const t of timers) clearInterval(t);
    };
  };
  window.addEventListener('hashchange', render);
  render();
}

void start();
