import { Group, Text } from '@mantine/core';

export const PRODUCT_NAME = 'Tessera';

/** The mark: four tiles, one of them in the accent colour. */
export function Logo({ size = 28 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true">
      <rect x="2" y="2" width="13" height="13" rx="3" fill="var(--mantine-color-indigo-6)" />
      <rect x="17" y="2" width="13" height="13" rx="3" fill="var(--mantine-color-indigo-2)" />
      <rect x="2" y="17" width="13" height="13" rx="3" fill="var(--mantine-color-indigo-2)" />
      <rect x="17" y="17" width="13" height="13" rx="3" fill="var(--mantine-color-teal-5)" />
    </svg>
  );
}

export function Brand({ size = 'lg' }: { size?: 'md' | 'lg' | 'xl' }) {
  return (
    <Group gap={10} wrap="nowrap">
      <Logo size={size === 'xl' ? 34 : 28} />
      <Text fw={700} size={size} c="dark.7" style={{ letterSpacing: '-0.01em' }} className="brand-word">
        {PRODUCT_NAME}
      </Text>
    </Group>
  );
}
