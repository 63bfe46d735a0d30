import '../../src/quiet-warnings';
import { DefaultLogger, Runtime } from '@temporalio/worker';

// Root setup for every mocha run: keep the SDK's per-worker INFO chatter out of test output.
Runtime.install({ logger: new DefaultLogger('WARN') });
