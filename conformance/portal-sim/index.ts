/** The simulated BHXH eGateway (see README.md): start it in-process with startPortalSimulator. */
export { ENDPOINTS, md5Upper, startPortalSimulator, vietnamTimestamp } from './simulator.js';
export type { PortalAccount, PortalSimulator, PortalSimulatorOptions, Submission } from './simulator.js';
export { BUSINESS_REJECTIONS, MESSAGES, RESULT, type ResultCode } from './codes.js';
export { DEFAULT_SEED, validateFaults, type Faults } from './faults.js';
export { DEVELOPMENT_OFFICER, sampleCards, type CardState, type SimCard, type SimOfficer, type SimVisit } from './card-data.js';
export { CARD_LOOKUP_PATH, type LookupFaults, type LookupRecord } from './card-lookup.js';
