export { startFakeUpstream, type FakeUpstream, type FakeUpstreamOptions, type RecordedRequest } from './server';
export { DEFAULT_BEHAVIOR, DEFAULT_TEXT, answerPieces, parseBehaviorHeader, type FakeBehavior, type FakeUsage } from './behavior';
export { rawRequest, type RawResponse } from './client';
