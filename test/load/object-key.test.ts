import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { checkEndpointUrl, objectUri, parseDestination } from '../../src/load/destination.js';
import { checkKeyTemplate, renderObjectKey } from '../../src/load/object-key.js';

const now = new Date('2024-05-01T23:30:00Z');

describe('renderObjectKey', () => {
  it.each([
    ['ons/', '{name}', 'deaths.parquet', 'ons/deaths.parquet'],
    ['lake/', '{name}', 'monthly/2019/deaths.parquet', 'lake/monthly/2019/deaths.parquet'],
    ['', '{date}/{name}', 'deaths.parquet', '2024-05-01/deaths.parquet'],
    ['ons/', '{edition}/{name}', 'Monthly2019Mortality.xls', 'ons/2019/Monthly2019Mortality.xls'],
    ['ons/', 'v1/{edition}/{date}-{name}', 'weekly/2020/x.parquet', 'ons/v1/2020/2024-05-01-weekly/2020/x.parquet'],
  ])('prefix %j + %j for %j is %j', (prefix, template, name, key) => {
    expect(renderObjectKey(prefix, template, { path: name, name }, now)).toBe(key);
  });

  it('takes the edition from a path that starts with the year', () => {
    expect(renderObjectKey('', '{edition}/{name}', { path: '2019/deaths.parquet', name: '2019/deaths.parquet' }, now)).toBe('2019/2019/deaths.parquet');
  });

  it('refuses {edition} when the path has no year, naming the file', () => {
    expect(() => renderObjectKey('', '{edition}/{name}', { path: 'deaths.parquet', name: 'deaths.parquet' }, now)).toThrow(
      expect.objectContaining({ message: '--key uses {edition} but deaths.parquet has no year in its path', hint: 'rename the file or drop {edition} from --key' }),
    );
  });

  it.each([
    ['ons/', '../{name}', 'ons/../a'],
    ['ons/', './{name}', 'ons/./a'],
    ['', '/{name}', '/a'],
  ])('refuses keys that climb out of the prefix: %j + %j', (prefix, template, key) => {
    expect(() => renderObjectKey(prefix, template, { path: 'a', name: 'a' }, now)).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: `object key ${JSON.stringify(key)} would escape the destination prefix`, hint: 'remove "." and ".." from --key' }),
    );
  });
});

describe('checkKeyTemplate', () => {
  it.each(['{name}', '{date}/{name}', '{edition}/{date}/{name}'])('accepts %j', (template) => {
    expect(() => checkKeyTemplate(template)).not.toThrow();
  });
  it.each([
    ['{date}.parquet', /must contain \{name\}/],
    ['{month}/{name}', /unknown placeholder \{month\}/],
  ])('rejects %j', (template, message) => {
    expect(() => checkKeyTemplate(template)).toThrow(message);
    expect(() => checkKeyTemplate(template)).toThrow(expect.objectContaining({ hint: expect.stringMatching(/^placeholders: \{name\} .*, \{date\} .*, \{edition\} /) }));
  });
});

describe('parseDestination', () => {
  it.each([
    ['gs://my-bucket/ons/', { scheme: 'gs', bucket: 'my-bucket', prefix: 'ons/' }],
    ['gs://my-bucket/ons', { scheme: 'gs', bucket: 'my-bucket', prefix: 'ons/' }],
    ['s3://my-bucket/lake/deep/', { scheme: 's3', bucket: 'my-bucket', prefix: 'lake/deep/' }],
    ['s3://my-bucket', { scheme: 's3', bucket: 'my-bucket', prefix: '' }],
    ['s3://Legacy_Bucket.1/x/', { scheme: 's3', bucket: 'Legacy_Bucket.1', prefix: 'x/' }],
    ['file:///srv/lake/ons/', { scheme: 'file', bucket: '/srv/lake/ons/', prefix: '' }],
    ['./lake/ons', { scheme: 'file', bucket: path.resolve('lake/ons') + path.sep, prefix: '' }],
    ['../lake', { scheme: 'file', bucket: path.resolve('../lake') + path.sep, prefix: '' }],
    ['/srv/lake', { scheme: 'file', bucket: '/srv/lake/', prefix: '' }],
  ])('%j', (flag, expected) => {
    expect(parseDestination(flag)).toEqual(expected);
  });

  it.each([
    ['ftp://host/dir/', /unknown scheme ftp:\/\//],
    ['gs:///ons/', /names no bucket/],
    ['gs:/b/ons/', /looks like a mistyped URL/],
    ['s3//b/', /looks like a mistyped URL/],
    ['lake/ons', /neither a bucket URL nor a local path/],
    ['gs://Bad_Bucket Name/ons/', /" " cannot be part of a bucket name \("Bad_Bucket Name"\)/],
    ['s3://user@bucket/', /"@" cannot be part of a bucket name/],
    ['gs://My-Bucket/ons/', /Cloud Storage bucket names are lower case \("My-Bucket"\)/],
  ])('rejects %j', (flag, message) => {
    expect(() => parseDestination(flag)).toThrow(message);
  });

  it.each([
    ['.', path.resolve('.') + path.sep],
    ['..', path.resolve('..') + path.sep],
    ['./exports/odd://name', path.resolve('exports/odd:/name') + path.sep],
  ])('%j is a local directory', (flag, directory) => {
    expect(parseDestination(flag)).toEqual({ scheme: 'file', bucket: directory, prefix: '' });
  });

  const FORMS = 'use gs://bucket/prefix/, s3://bucket/prefix/, file:///dir/, or a local path that starts with /, ./ or ../';
  it.each([
    ['ftp://host/dir/', '--bucket ftp://host/dir/: unknown scheme ftp://', `${FORMS}, or --to postgres://… for a table`],
    ['gs:///ons/', '--bucket gs:///ons/ names no bucket', 'write it as gs://bucket/prefix/'],
    ['gs:/b/ons/', '--bucket gs:/b/ons/ looks like a mistyped URL', 'did you mean gs://b/ons/?'],
    ['S3:/bucket/', '--bucket S3:/bucket/ looks like a mistyped URL', 'did you mean s3://bucket/?'],
    ['s3//b/', '--bucket s3//b/ looks like a mistyped URL', 'did you mean s3://b/?'],
    ['gs:bucket/ons', '--bucket gs:bucket/ons looks like a mistyped URL', 'did you mean gs://bucket/ons?'],
    ['file:/srv/lake', '--bucket file:/srv/lake looks like a mistyped URL', 'did you mean file:///srv/lake?'],
    // A colon left out before the slashes: the fix keeps neither a stray slash nor drops the path.
    ['gs///b/ons/', '--bucket gs///b/ons/ looks like a mistyped URL', 'did you mean gs://b/ons/?'],
    ['file///srv/lake', '--bucket file///srv/lake looks like a mistyped URL', 'did you mean file:///srv/lake?'],
    ['file://srv/lake/', '--bucket file://srv/lake/ is not a local file URL', 'write file:///absolute/dir/ (three slashes), or a path such as ./dir/'],
    ['gcs:/bucket/', '--bucket gcs:/bucket/ looks like a mistyped URL', FORMS],
    ['my-bucket/ons/', '--bucket my-bucket/ons/ is neither a bucket URL nor a local path', 'for a bucket write gs://my-bucket/ons/ or s3://my-bucket/ons/; for a local folder write ./my-bucket/ons/'],
    ['my-bucket//ons', '--bucket my-bucket//ons is neither a bucket URL nor a local path', 'for a bucket write gs://my-bucket//ons or s3://my-bucket//ons; for a local folder write ./my-bucket//ons'],
    ['lake/./ons', '--bucket lake/./ons is neither a bucket URL nor a local path', 'for a bucket write gs://lake/./ons or s3://lake/./ons; for a local folder write ./lake/./ons'],
    ['s3://user@bucket/', '--bucket s3://user@bucket/: "@" cannot be part of a bucket name ("user@bucket")', "bucket names hold letters, digits, '.', '-' and '_' only; write it as s3://bucket/prefix/"],
    ['gs://My-Bucket/ons/', '--bucket gs://My-Bucket/ons/: Cloud Storage bucket names are lower case ("My-Bucket")', 'did you mean gs://my-bucket/ons/?'],
  ])('refuses %j with the likely fix', (flag, message, hint) => {
    expect(() => parseDestination(flag)).toThrow(expect.objectContaining({ name: 'ConfigError', message, hint }));
  });

  it('gives the URI a user would type', () => {
    expect(objectUri(parseDestination('gs://b/ons/'), 'ons/x.parquet')).toBe('gs://b/ons/x.parquet');
    expect(objectUri(parseDestination('file:///srv/lake/'), 'a b/x.csv')).toBe('file:///srv/lake/a%20b/x.csv');
  });
});

describe('checkEndpointUrl', () => {
  it('accepts http and https URLs and rejects host:port with the fix in the hint', () => {
    expect(() => checkEndpointUrl('http://127.0.0.1:9000', '--endpoint')).not.toThrow();
    expect(() => checkEndpointUrl(undefined, '--endpoint')).not.toThrow();
    expect(() => checkEndpointUrl('localhost:9199', 'STORAGE_EMULATOR_HOST')).toThrow(expect.objectContaining({ hint: expect.stringContaining('http://localhost:9199') }));
    expect(() => checkEndpointUrl('HTTPS://minio.internal', '--endpoint')).not.toThrow();
    expect(() => checkEndpointUrl('hhttp://127.0.0.1:9000', '--endpoint')).toThrow(/^--endpoint hhttp:\/\/127\.0\.0\.1:9000 is not an http:\/\/ or https:\/\/ URL$/);
    expect(() => checkEndpointUrl('http:///bucket', '--endpoint')).toThrow(ConfigError);
    expect(() => checkEndpointUrl('tcp://127.0.0.1:9000', '--endpoint')).toThrow(expect.objectContaining({ hint: 'write it as http://127.0.0.1:9000 (emulators and local stores usually speak plain http)' }));
  });
});
