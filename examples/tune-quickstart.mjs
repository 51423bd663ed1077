import { init, shutdown } from '@samsara/ray';
import { Tuner, tune, ASHAScheduler } from '@samsara/ray-tune';

await init();
const grid = await new Tuner(
  async (config, ctx) => {
    // A stand-in for training: the score approaches 1 faster with a better learning rate.
    for (let epoch = 1; epoch <= 8; epoch++) {
      const accuracy = 1 - Math.exp(-epoch * config.lr * 10) * (1 - config.width / 100);
      await ctx.report({ accuracy, epoch });
    }
  },
  {
    paramSpace: { lr: tune.loguniform(1e-3, 1e-1), width: tune.choice([16, 32, 64]) },
    tuneConfig: { metric: 'accuracy', mode: 'max', numSamples: 8, scheduler: new ASHAScheduler({ maxT: 8, gracePeriod: 1 }) },
    resourcesPerTrial: [{ CPU: 1 }],
    runConfig: { name: 'readme', storagePath: './tune-results' },
  },
).fit();
console.log(grid.toTable());
console.log('best', grid.getBestResult().config);
await shutdown();
