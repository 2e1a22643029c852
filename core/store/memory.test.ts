import { MemoryStore } from './memory.ts';
import { storeContract } from './store.contract.ts';

storeContract('memory', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));
