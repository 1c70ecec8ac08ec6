/**
 * What the payments tests run a team gateway against, started together and stopped together: a
 * throwaway PostgreSQL server, the fake upstream and the fake Stripe.
 */
import { startFakeStripe, type FakeStripe } from '../fake-stripe/server';
import { startFakeUpstream, type FakeUpstream } from '../fake-upstream';
import { startPostgres, type PostgresServer } from './postgres';

export interface PaymentsBackends {
  server: PostgresServer;
  upstream: FakeUpstream;
  stripe: FakeStripe;
  close(): Promise<void>;
}

export async function startPaymentsBackends(): Promise<PaymentsBackends> {
  const [server, upstream, stripe] = await Promise.all([startPostgres(), startFakeUpstream(), startFakeStripe()]);
  return {
    server,
    upstream,
    stripe,
    async close() {
      await Promise.all([upstream.close(), stripe.close()]);
      server.close();
    },
  };
}
