import { describe, expect, it } from 'vitest';
import { describeImage } from '../../src/builder/description/load.js';
import { DescriptionError, type Problem } from '../../src/builder/description/problems.js';
import type { ResolveOptions } from '../../src/builder/description/resolve.js';
import { NO_OVERRIDES } from '../fixtures/descriptions/load-fixture.js';

const options: ResolveOptions = { ...NO_OVERRIDES, descriptionDir: '/d', descriptionFile: '/d/config.kiwi' };

/** A valid description with `inner` added to <image> and `attrs` replacing its attributes. */
function image(inner: string, attrs = 'name="t" schemaversion="7.4"', prefs = '<version>1.0.0</version><type image="tbz"/>'): string {
  return `<image ${attrs}>
  <description type="system"><author>a</author><contact>c</contact><specification>s</specification></description>
  <preferences>${prefs}</preferences>
  <repository type="apt-deb" distribution="bookworm"><source path="http://deb.debian.org/debian"/></repository>
  <packages type="bootstrap"><package name="ca-certificates"/></packages>
  ${inner}
</image>`;
}

function problems(text: string, override: Partial<ResolveOptions> = {}): readonly Problem[] {
  try {
    describeImage(text, { ...options, ...override }, () => undefined);
  } catch (error) {
    if (error instanceof DescriptionError) return error.problems;
    throw error;
  }
  throw new Error('expected a DescriptionError');
}

describe('schema errors name the element and its XML path', () => {
  it('accepts the base description', () => {
    expect(describeImage(image(''), options, () => undefined).name).toBe('t');
  });

  it('unknown element', () => {
    expect(problems(image('<drivers><file name="x"/></drivers>'))).toEqual([
      {
        where: '/image/drivers[1]',
        message: 'unknown element <drivers> in <image> (supported: description, preferences, profiles, users, repository, packages)',
      },
    ]);
  });

  it('unknown attribute', () => {
    expect(problems(image('', 'name="t" schemaversion="7.4"', '<version>1.0.0</version><type image="tbz" format="qcow2"/>'))).toEqual([
      {
        where: '/image/preferences[1]/type[1]',
        message: 'unknown attribute "format" on <type> (supported: image, primary, filesystem, firmware, kernelcmdline)',
      },
    ]);
  });

  it('unsupported package manager', () => {
    expect(problems(image('', undefined, '<version>1.0.0</version><packagemanager>zypper</packagemanager><type image="tbz"/>'))).toEqual([
      { where: '/image/preferences[1]/packagemanager[1]', message: '<packagemanager> "zypper": not supported, kiwi builds with apt only' },
    ]);
  });

  it('bad schema version, below 7.4 and above 8.x', () => {
    for (const version of ['7.3', '6.9', '9.0']) {
      expect(problems(image('', `name="t" schemaversion="${version}"`))).toEqual([
        { where: '/image', message: `<image> schemaversion="${version}": not supported, kiwi reads schema versions 7.4 to 8.x` },
      ]);
    }
  });

  it('accepts schema versions 7.4 to 8.x', () => {
    for (const version of ['7.4', '7.5', '7.6', '8.0', '8.5', '8.12']) {
      expect(describeImage(image('', `name="t" schemaversion="${version}"`), options, () => undefined).schemaVersion).toBe(version);
    }
  });

  it('namedCollection: apt has no patterns', () => {
    expect(problems(image('<packages type="image"><namedCollection name="base"/></packages>'))).toEqual([
      {
        where: '/image/packages[2]/namedCollection[1]',
        message: '<namedCollection> is not supported: apt has no patterns, list the packages with <package>',
      },
    ]);
  });

  it('missing required attribute and unsupported values', () => {
    expect(problems(image('<repository type="rpm-md"><source/></repository><packages type="iso"/>'))).toEqual([
      { where: '/image/repository[2]', message: '<repository> type="rpm-md": not supported, kiwi builds with apt: use type="apt-deb"' },
      { where: '/image/repository[2]/source[1]', message: 'missing attribute "path" on <source>' },
      {
        where: '/image/packages[2]',
        message: '<packages> type="iso": invalid option: expected one of "bootstrap"|"image"|"uninstall"|"delete"|"docker"|"oci"|"oem"',
      },
    ]);
  });

  it('bad version format', () => {
    expect(problems(image('', undefined, '<version>1.0</version><type image="tbz"/>'))).toEqual([
      { where: '/image/preferences[1]/version[1]', message: '<version> "1.0": expected a version MAJOR.MINOR.RELEASE, e.g. 1.0.0' },
    ]);
  });

  it('cardinality: two <version> in one section, <description> missing parts', () => {
    const text = image('', undefined, '<version>1.0.0</version><version>2.0.0</version><type image="tbz"/>').replace(
      '<author>a</author>',
      '',
    );
    expect(problems(text)).toEqual([
      { where: '/image/description[1]', message: 'missing <author> in <description>' },
      { where: '/image/preferences[1]', message: 'more than one <version> in <preferences>' },
    ]);
  });

  it('text where none is allowed', () => {
    expect(problems(image('<packages type="image"><package name="vim">vim</package></packages>'))).toEqual([
      { where: '/image/packages[2]/package[1]', message: '<package> "vim": text is not allowed here' },
    ]);
  });

  it('reports several problems together, in document order, in one error with one line each', () => {
    const text = image(
      '<packages type="image" bogus="1"><namedCollection name="x"/></packages><stuff/>',
      'name="t" schemaversion="6.0"',
      '<version>1.0.0</version><packagemanager>dnf4</packagemanager><type image="iso"/>',
    );
    let error: DescriptionError | undefined;
    try {
      describeImage(text, options, () => undefined);
    } catch (caught) {
      error = caught as DescriptionError;
    }
    expect(error).toBeInstanceOf(DescriptionError);
    expect(error?.exitCode).toBe(2);
    expect(error?.message.split('\n')).toEqual([
      'description /d/config.kiwi has 6 problems:',
      '  /image: <image> schemaversion="6.0": not supported, kiwi reads schema versions 7.4 to 8.x',
      '  /image/preferences[1]/packagemanager[1]: <packagemanager> "dnf4": not supported, kiwi builds with apt only',
      '  /image/preferences[1]/type[1]: <type> image="iso": not supported, kiwi builds tbz, docker, oci, oem images',
      '  /image/packages[2]: unknown attribute "bogus" on <packages> (supported: type, profiles, patternType)',
      '  /image/packages[2]/namedCollection[1]: <namedCollection> is not supported: apt has no patterns, list the packages with <package>',
      '  /image/stuff[1]: unknown element <stuff> in <image> (supported: description, preferences, profiles, users, repository, packages)',
    ]);
  });
});

describe('resolve and validate errors', () => {
  it('unknown profile lists the known ones', () => {
    const text = image('<profiles><profile name="a" description="x"/><profile name="b" description="y"/></profiles>');
    expect(problems(text, { profiles: ['c'] })).toEqual([{ where: '--profile', message: 'unknown profile "c" for x86_64 (known: a, b)' }]);
  });

  it('unknown type lists the types of the selection', () => {
    expect(problems(image(''), { type: 'oci' })).toEqual([{ where: '--type', message: 'unknown type "oci" with no profiles (defined: tbz)' }]);
  });

  it('requires naming an unknown profile, and profiles= naming an undefined one', () => {
    const text = image(
      '<profiles><profile name="a" description="x" import="true"><requires profile="nope"/></profile></profiles><packages type="image" profiles="typo"/>',
    );
    expect(problems(text)).toEqual([
      { where: '/image/profiles[1]/profile[1]/requires[1]', message: 'requires unknown profile "nope" (known: a)' },
      { where: '/image/packages[2]', message: 'profiles= names undefined profile "typo" (defined: a)' },
    ]);
  });

  it('cross-field rules: tbz with a bootloader, oem without filesystem, containerconfig on tbz, no version', () => {
    const tbz = image('', undefined, '<version>1.0.0</version><type image="tbz" firmware="efi"><bootloader name="grub2"/><containerconfig name="x"/></type>');
    expect(problems(tbz)).toEqual([
      { where: '/image/preferences[1]/type[1]', message: 'firmware= is only for oem types, not tbz' },
      { where: '/image/preferences[1]/type[1]/bootloader[1]', message: 'a tbz type has no bootloader: <bootloader> is only for oem types' },
      { where: '/image/preferences[1]/type[1]/containerconfig[1]', message: '<containerconfig> is only for docker and oci types, not tbz' },
    ]);
    expect(problems(image('', undefined, '<type image="oem"/>'))).toEqual([
      { where: '/image', message: 'no <version> in the selected <preferences> sections' },
      { where: '/image/preferences[1]/type[1]', message: 'an oem type needs filesystem= (ext4, xfs, ...)' },
    ]);
  });

  it('<size>: KIWI\'s megabytes by default or unit="G", additive; a whole number; oem only', () => {
    const oem = (size: string) => image('', undefined, `<version>1.0.0</version><type image="oem" filesystem="ext4">${size}</type>`);
    expect(describeImage(oem('<size>900</size>'), options, () => undefined).type.size).toEqual({ xmlPath: '/image/preferences[1]/type[1]/size[1]', bytes: 900 * 1024 ** 2, additive: false });
    expect(describeImage(oem('<size unit="G" additive="true">2</size>'), options, () => undefined).type.size).toMatchObject({ bytes: 2 * 1024 ** 3, additive: true });
    expect(describeImage(oem(''), options, () => undefined).type.size).toBeUndefined();
    expect(problems(oem('<size unit="T">1.5</size>')).map((problem) => problem.where)).toEqual(['/image/preferences[1]/type[1]/size[1]', '/image/preferences[1]/type[1]/size[1]']);
    expect(problems(image('', undefined, '<version>1.0.0</version><type image="tbz"><size>900</size></type>'))).toEqual([
      { where: '/image/preferences[1]/type[1]/size[1]', message: 'a tbz type has no disk: <size> is only for oem types' },
    ]);
  });

  it('apt needs bootstrap packages and a repository with a distribution', () => {
    const text = image('')
      .replace('<packages type="bootstrap"><package name="ca-certificates"/></packages>', '')
      .replace(' distribution="bookworm"', '');
    expect(problems(text)).toEqual([
      { where: '/image/repository[1]', message: 'apt needs a repository with distribution= (e.g. bookworm) to bootstrap from' },
      { where: '/image', message: 'no bootstrap packages: apt needs <packages type="bootstrap"> with at least one <package>' },
    ]);
  });

  it('the same type twice in one selection, duplicate aliases and users', () => {
    const text = image(
      '<repository alias="dup" distribution="x"><source path="http://a/"/></repository><repository alias="dup"><source path="http://b/"/></repository>' +
        '<users><user name="u" password=""/><user name="u" password=""/></users>',
      undefined,
      '<version>1.0.0</version><type image="tbz"/><type image="tbz"/>',
    );
    expect(problems(text)).toEqual([
      {
        where: '/image/preferences[1]/type[2]',
        message: 'type "tbz" is defined again for the same profiles (first at /image/preferences[1]/type[1]): move one into its own profile',
      },
      { where: '/image/repository[3]', message: 'repository alias "dup" is used twice (first at /image/repository[2])' },
      { where: '/image/users[1]/user[2]', message: 'user "u" is defined twice (first at /image/users[1]/user[1])' },
    ]);
  });
});
