/** The dialects, and the route allowlist that picks one for each request (routes.ts). */
export { apiFamilyForPath, routeFor, type Route } from './routes';
export { anthropicApi, openAiApi } from './apiFamilies';
export { chatCompletionsDialect } from './chatCompletions';
export { completionsDialect } from './completions';
export { embeddingsDialect } from './embeddings';
export { imagesDialect } from './images';
export { messagesDialect } from './messages';
export { moderationsDialect } from './moderations';
export { responsesDialect } from './responses';
export { speechDialect } from './speech';
export { transcriptionsDialect } from './transcriptions';
