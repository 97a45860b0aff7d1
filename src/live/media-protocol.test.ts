import { describe, expect, it } from 'vitest';
import { AppError } from '../domain/app-error.js';
import { fromWireError, parseMediaWorkerSettings, toWireError } from './media-protocol.js';

describe('media worker settings', () => {
  it('reads back what the main process passes', () => {
    const settings = {
      writeCoalescing: 'always',
      directWrites: 'off',
      opusComplexity: 3,
      logLevel: 'warn',
      nats: { servers: ['nats://127.0.0.1:4222'], prefix: 'x' },
    } as const;
    expect(parseMediaWorkerSettings(JSON.stringify(settings))).toEqual(settings);
    expect(parseMediaWorkerSettings(JSON.stringify({ ...settings, nats: null })).nats).toBeNull();
  });

  it.each([
    undefined,
    '{}',
    '{"writeCoalescing":"auto"}',
    '{"writeCoalescing":"auto","directWrites":"yes","logLevel":"info","nats":null}',
    '{"writeCoalescing":"auto","directWrites":"on","logLevel":"info"}',
    '{"writeCoalescing":"auto","directWrites":"on","logLevel":"info","nats":null}',
  ])('refuses %j rather than running with defaults nobody chose', (json) => {
    expect(() => parseMediaWorkerSettings(json)).toThrow(/bad settings/);
  });
});

describe('control-plane refusals across the channel', () => {
  it('come back as the same AppError (code, message, close code)', () => {
    const back = fromWireError(toWireError(new AppError('QUOTA_EXCEEDED', 'too many participants')));
    expect(back).toBeInstanceOf(AppError);
    expect(back.code).toBe('QUOTA_EXCEEDED');
    expect(back.message).toBe('too many participants');
    expect(back.closeCode).toBe(new AppError('QUOTA_EXCEEDED').closeCode);
  });

  it('hide anything else as an internal error', () => {
    const back = fromWireError(toWireError(new Error('secret detail')));
    expect(back.code).toBe('INTERNAL_SERVER_ERROR');
    expect(back.message).not.toMatch(/secret/);
    expect(fromWireError({ code: 'NOPE', message: 'x' }).code).toBe('INTERNAL_SERVER_ERROR');
  });
});
