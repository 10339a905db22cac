import { describe, expect, it } from 'vitest';
import { BackendOptions, CORE_OPTIONS, envName, optionSpecs, registerOption } from '@weightkit/core';

registerOption({ key: 'test.budget_mb', type: 'integer', default: 64, min: 1, max: 1 << 20, doc: 'a test budget' });
registerOption({ key: 'test.path', type: 'string', default: '', doc: 'a test path', validate: (v) => (v.includes('\0') ? 'contains NUL' : undefined) });
registerOption({ key: 'test.ratio', type: 'number', default: 0.5, min: 0, max: 1, doc: 'a ratio' });

describe('BackendOptions', () => {
  it('gives defaults, sets typed values, and lists every option', () => {
    const o = new BackendOptions({ 'test.budget_mb': 128 });
    expect(o.get('test.budget_mb')).toBe(128);
    expect(o.get('test.path')).toBe('');
    expect(o.get(CORE_OPTIONS.populate.key)).toBe(false);
    expect(o.isSet('test.path')).toBe(false);
    expect(optionSpecs().map((s) => s.key)).toEqual(expect.arrayContaining(['core.map_populate', 'core.madvise', 'test.budget_mb']));
    expect(o.toJSON()['test.ratio']).toBe(0.5);
  });

  it('refuses unknown keys, naming the known ones', () => {
    expect(() => new BackendOptions({ 'test.budget': 1 })).toThrowError(/unknown option 'test.budget' \(known: .*test.budget_mb/);
    try {
      new BackendOptions().set('nope.x', 1);
    } catch (e) {
      expect((e as { code: string }).code).toBe('WK_BAD_ARGUMENT');
    }
  });

  it('refuses wrong types and out-of-range values, naming the key and what is allowed', () => {
    const o = new BackendOptions();
    expect(() => o.set('test.budget_mb', '12')).toThrowError(/option 'test.budget_mb' must be an integer from 1 to 1048576/);
    expect(() => o.set('test.budget_mb', 0)).toThrowError(/below 1/);
    expect(() => o.set('test.budget_mb', 1.5)).toThrowError(/not an integer/);
    expect(() => o.set('test.ratio', 2)).toThrowError(/above 1/);
    expect(() => o.set('test.ratio', NaN)).toThrowError(/finite/);
    expect(() => o.set('core.madvise', 'fast')).toThrowError(/one of normal, sequential, random, willneed/);
    expect(() => o.set('core.map_populate', 'yes')).toThrowError(/true or false/);
    expect(() => o.set('test.path', 'a\0b')).toThrowError(/contains NUL/);
  });

  it('parses WEIGHTKIT_* environment variables by type', () => {
    expect(envName('xnnpack.packed_cache_path')).toBe('WEIGHTKIT_XNNPACK_PACKED_CACHE_PATH');
    const o = BackendOptions.fromEnv({
      WEIGHTKIT_TEST_BUDGET_MB: '256', WEIGHTKIT_CORE_MAP_POPULATE: 'yes', WEIGHTKIT_CORE_MADVISE: 'sequential',
      WEIGHTKIT_ADDON_WEIGHTKIT_CORE: '/somewhere', PATH: '/bin',
    }, { 'test.ratio': 0.25 });
    expect(o.get('test.budget_mb')).toBe(256);
    expect(o.get('core.map_populate')).toBe(true);
    expect(o.get('core.madvise')).toBe('sequential');
    expect(o.get('test.ratio')).toBe(0.25);
  });

  it('refuses malformed or unknown environment variables, naming them', () => {
    expect(() => BackendOptions.fromEnv({ WEIGHTKIT_TEST_BUDGET_MB: 'lots' })).toThrowError(/test.budget_mb.*'lots'/);
    expect(() => BackendOptions.fromEnv({ WEIGHTKIT_CORE_MAP_POPULATE: 'maybe' })).toThrowError(/true or false/);
    expect(() => BackendOptions.fromEnv({ WEIGHTKIT_TEST_BUDGET: '3' })).toThrowError(/WEIGHTKIT_TEST_BUDGET matches no option/);
  });

  it('refuses bad registrations', () => {
    expect(() => registerOption({ key: 'Bad Key', type: 'string', default: '', doc: '' })).toThrowError(/backend.name/);
    expect(() => registerOption({ key: 'test.budget_mb', type: 'string', default: 'x', doc: '' })).toThrowError(/already registered/);
    expect(() => registerOption({ key: 'test.bad_default', type: 'integer', default: -1, min: 0, doc: '' })).toThrowError(/default/);
  });
});
