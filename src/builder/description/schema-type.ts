import { z } from 'zod';
import { element, many, oneOrMore, optionalOne, xmlBool } from './schema-kit.js';

/**
 * Schemas of `<type>` and what it holds (`<bootloader>`, `<containerconfig>`): the
 * attributes kiwi can build for tbz, docker, oci and oem images (KIWI's kiwi.rnc).
 */

/** The image types kiwi builds. */
export const BUILD_TYPES = ['tbz', 'docker', 'oci', 'oem'] as const;
export type BuildType = (typeof BUILD_TYPES)[number];

const nonNegativeInt = z
  .string()
  .regex(/^\d+$/, 'expected a whole number')
  .transform((value) => Number(value));

const nameValue = element({ name: z.string().min(1), value: z.string() }, {});

/** `<entrypoint>` / `<subcommand>`: execute="..." with arguments, or clear="true". */
const command = element(
  { execute: z.string().min(1).optional(), clear: xmlBool.optional() },
  { argument: many(element({ name: z.string() }, {})) },
).refine((cmd) => (cmd.execute !== undefined) !== (cmd.clear === true), {
  error: 'needs either execute="PROGRAM" or clear="true" (not both)',
});

const containerconfig = element(
  {
    name: z.string().min(1).optional(),
    tag: z.string().regex(/^[\w][\w.-]{0,127}$/, 'expected an OCI tag (letters, digits, _ . -)').optional(),
    additionalnames: z.string().optional(),
    maintainer: z.string().optional(),
    user: z.string().optional(),
    workingdir: z.string().optional(),
  },
  {
    entrypoint: optionalOne(command),
    subcommand: optionalOne(command),
    expose: optionalOne(
      element({}, { port: oneOrMore(element({ number: z.string().regex(/^\d+(\/(udp|tcp))?$/, 'expected PORT or PORT/tcp or PORT/udp') }, {})) }),
    ),
    volumes: optionalOne(element({}, { volume: oneOrMore(element({ name: z.string().min(1) }, {})) })),
    environment: optionalOne(element({}, { env: oneOrMore(nameValue) })),
    labels: optionalOne(element({}, { label: oneOrMore(nameValue) })),
    history: optionalOne(
      element({ created_by: z.string().optional(), author: z.string().optional() }, {}, z.string().optional()),
    ),
  },
);

const bootloader = element(
  {
    name: z.enum(['grub2'], { error: 'not supported, kiwi installs grub2' }),
    // console is the pre-8.4 spelling of output_console/input_console (KIWI's convert83to84.xsl).
    console: z.string().optional(),
    output_console: z.string().optional(),
    input_console: z.string().optional(),
    serial_line: z.string().optional(),
    timeout: nonNegativeInt.optional(),
    timeout_style: z.enum(['countdown', 'hidden', 'menu']).optional(),
  },
  {},
);

/** `<size unit additive>N</size>`: the disk's size, in KIWI's megabytes unless unit="G". */
const size = element(
  { unit: z.enum(['M', 'G'], { error: 'expected M or G' }).optional(), additive: xmlBool.optional() },
  {},
  z.string({ error: 'expected the size, a whole number' }).regex(/^\d+$/, 'expected a whole number').transform((value) => Number(value)),
);

export const typeSchema = element(
  {
    image: z.enum(BUILD_TYPES, { error: `not supported, kiwi builds ${BUILD_TYPES.join(', ')} images` }),
    primary: xmlBool.optional(),
    filesystem: z.enum(['ext2', 'ext3', 'ext4', 'xfs']).optional(),
    firmware: z.enum(['bios', 'efi', 'uefi']).optional(),
    kernelcmdline: z.string().optional(),
  },
  { bootloader: optionalOne(bootloader), containerconfig: optionalOne(containerconfig), size: optionalOne(size) },
);

export type TypeDoc = z.output<typeof typeSchema>;
export type ContainerConfigDoc = NonNullable<TypeDoc['containerconfig']>;
export type CommandDoc = z.output<typeof command>;
