import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CidrParseError, ipRanges, isPublicAddress, parseCidr } from './ip-ranges.ts';

describe('ip-ranges', () => {
  describe('parseCidr', () => {
    it('should accept IPv4 and IPv6 ranges and bare addresses', () => {
      assert.equal(parseCidr('10.0.0.0/8').canonical, '10.0.0.0/8');
      assert.equal(parseCidr(' 2001:DB8::/32 ').canonical, '2001:db8::/32');
      assert.equal(parseCidr('192.0.2.7').canonical, '192.0.2.7/32');
      assert.equal(parseCidr('::1').canonical, '::1/128');
    });

    for (const bad of [
      '',
      '10.0.0.0/33',
      '2001:db8::/129',
      '10.0.0/8',
      '300.1.1.1/8',
      'example.com/24',
      '10.0.0.0/-1',
      '10.0.0.0/8/1',
      '10.0.0.0/',
    ]) {
      it(`should refuse ${JSON.stringify(bad)}`, () => {
        assert.throws(() => parseCidr(bad), CidrParseError);
      });
    }
  });

  describe('ipRanges', () => {
    it('should match at the edges of a range', () => {
      const ranges = ipRanges(['192.0.2.0/25', '2001:db8:abcd::/48']);

      assert.equal(ranges.contains('192.0.2.0'), true);
      assert.equal(ranges.contains('192.0.2.127'), true);
      assert.equal(ranges.contains('192.0.2.128'), false);
      assert.equal(ranges.contains('2001:db8:abcd:ffff::1'), true);
      assert.equal(ranges.contains('2001:db8:abce::1'), false);
      assert.equal(ranges.contains('not an address'), false);
    });
  });

  describe('isPublicAddress', () => {
    it('should refuse private, loopback, link-local and mapped private addresses', () => {
      for (const address of [
        '10.1.2.3',
        '127.0.0.1',
        '169.254.169.254',
        '172.16.0.1',
        '192.168.1.1',
        '100.64.0.1',
        '::1',
        'fe80::1',
        'fd00::1',
        '::ffff:10.0.0.1',
        '0.0.0.0',
      ]) {
        assert.equal(isPublicAddress(address), false, address);
      }
      assert.equal(isPublicAddress('::ffff:a00:1'), false, 'mapped, hex form');
      assert.equal(isPublicAddress('93.184.216.34'), true);
      assert.equal(isPublicAddress('::ffff:93.184.216.34'), true);
      assert.equal(isPublicAddress('2606:4700::1111'), true);
    });
  });
});
