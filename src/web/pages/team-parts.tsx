import { Button, Group, Modal, Stack, Text, ThemeIcon, type ButtonProps } from '@mantine/core';
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { useMutation } from '@tanstack/react-query';
import { FormAlert, useFormErrors, type FormProblem } from '../forms.tsx';
import { CheckIcon, CopyIcon, KeyIcon } from '../icons.tsx';

/** Pieces the team pages share: dialogs, copying login tokens, dates. */

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function formatDateTime(iso: string): string {
  return DATE_TIME.format(new Date(iso));
}

export function formatDate(iso: string): string {
  return DATE.format(new Date(iso));
}

const DAY = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const TIME = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

/** A moment as day and time (the full form on hover), or `empty` when there is none. */
export function When({ iso, empty }: { iso: string | null; empty: string }) {
  if (!iso) {
    return (
      <Text span size="sm" c="dimmed">
        {empty}
      </Text>
    );
  }
  const date = new Date(iso);
  return (
    <time dateTime={iso} title={formatDateTime(iso)} className="token-when">
      <span>{DAY.format(date)}</span>
      <span className="token-when-time">{TIME.format(date)}</span>
    </time>
  );
}


/** Initials of a team member, for the round avatar. */
export function initials(name: string): string {
  const all = name.trim().split(/\s+/).filter(Boolean);
  // "Operator 07" is "O", not "O0"
  const words = all.filter((w) => /^\p{L}/u.test(w));
  if (words.length === 0) words.push(...all);
  return ((words[0]?.[0] ?? '?') + (words[1]?.[0] ?? '')).toUpperCase();
}

/**
 * A dialog whose target outlives its closing, so the content does not change while it fades out;
 * its content unmounts once closed, which resets the forms inside.
 */
export function useDialog<T>() {
  const [target, setTarget] = useState<T | null>(null);
  const [opened, setOpened] = useState(false);
  return {
    target,
    opened,
    open: useCallback((value: T) => {
      setTarget(() => value);
      setOpened(true);
    }, []),
    close: useCallback(() => setOpened(false), []),
  };
}

const TITLE_STYLES = { title: { fontWeight: 650, fontSize: 'var(--mantine-font-size-lg)' } };
const OVERLAY = { backgroundOpacity: 0.35, blur: 2 };

/** The frame of the portal's dialogs; `children` renders <DialogHeader> and its body. */
export function DialogFrame({ opened, onClose, size = 'md', children }: { opened: boolean; onClose: () => void; size?: string | number; children: ReactNode }) {
  return (
    <Modal.Root opened={opened} onClose={onClose} centered radius="md" size={size} styles={TITLE_STYLES}>
      <Modal.Overlay {...OVERLAY} />
      <Modal.Content>{children}</Modal.Content>
    </Modal.Root>
  );
}

export function DialogHeader({ title }: { title: ReactNode }) {
  return (
    <Modal.Header>
      <Modal.Title>{title}</Modal.Title>
      <Modal.CloseButton aria-label="Close" />
    </Modal.Header>
  );
}

/** "Are you sure?" for changes that cannot be undone. */
export function ConfirmDialog({
  opened,
  onClose,
  title,
  children,
  confirmLabel,
  onConfirm,
  pending,
  problem,
}: {
  opened: boolean;
  onClose: () => void;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  pending: boolean;
  problem: FormProblem | null;
}) {
  return (
    <DialogFrame opened={opened} onClose={onClose}>
      <DialogHeader title={title} />
      <Modal.Body>
        <Stack gap="md">
          <div className="confirm-text">{children}</div>
          <FormAlert problem={problem} />
          <Group justify="flex-end" gap="sm">
            <Button variant="default" onClick={onClose} data-autofocus>
              Cancel
            </Button>
            <Button color="red" onClick={onConfirm} loading={pending}>
              {confirmLabel}
            </Button>
          </Group>
        </Stack>
      </Modal.Body>
    </DialogFrame>
  );
}

/**
 * A <ConfirmDialog> that runs one call on its target: the form's errors are cleared when it opens
 * and when the call starts, a failure shows in its alert, a success closes it and then `onDone`.
 */
export function ConfirmMutationDialog<T>({
  opened,
  onClose,
  target,
  run,
  onDone,
  title,
  confirmLabel,
  children,
}: {
  opened: boolean;
  onClose: () => void;
  target: T | null;
  run: (target: T) => Promise<unknown>;
  onDone: () => unknown;
  title: string;
  confirmLabel: string;
  children: ReactNode;
}) {
  const errors = useFormErrors([] as const);
  const mutation = useMutation({
    mutationFn: run,
    onMutate: () => errors.reset(),
    onError: errors.capture,
    onSuccess: async () => {
      onClose();
      await onDone();
    },
  });
  useEffect(() => {
    if (opened) errors.reset();
  }, [opened]);
  return (
    <ConfirmDialog
      opened={opened}
      onClose={onClose}
      title={title}
      confirmLabel={confirmLabel}
      pending={mutation.isPending}
      problem={errors.problem}
      onConfirm={() => target && mutation.mutate(target)}
    >
      {children}
    </ConfirmDialog>
  );
}

/** Writes to the clipboard; false when the browser refuses (no permission, an insecure origin). */
export async function writeClipboard(text: string): Promise<boolean> {
  try {
    if (!navigator.clipboard) throw new Error('no clipboard');
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // the old way still works in some browsers that refuse the asynchronous API
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.append(area);
    area.select();
    let copied = false;
    try {
      copied = document.execCommand('copy');
    } catch {
      copied = false;
    }
    area.remove();
    return copied;
  }
}

/** Which item was copied last, for a short "Copied" confirmation. */
export function useCopied(ms = 2500) {
  const [copied, setCopied] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const mark = useCallback(
    (key: string) => {
      setCopied(key);
      clearTimeout(timer.current);
      timer.current = setTimeout(() => setCopied(null), ms);
    },
    [ms],
  );
  return { copied, mark };
}

/** A copy button that says "Copied" for a moment afterwards. */
export function CopyButton({
  copied,
  onClick,
  loading,
  label = 'Copy',
  ...props
}: { copied: boolean; onClick: () => void; loading?: boolean; label?: string } & Omit<ButtonProps, 'children' | 'leftSection' | 'color'> & { 'aria-label'?: string }) {
  return (
    <Button
      {...props}
      color={copied ? 'teal' : undefined}
      leftSection={copied ? <CheckIcon size={14} /> : <CopyIcon size={14} />}
      onClick={onClick}
      loading={loading}
    >
      <span aria-live="polite">{copied ? 'Copied' : label}</span>
    </Button>
  );
}

/** Selects the whole text of an element, so a refused clipboard still leaves Ctrl+C. */
export function selectText(element: HTMLElement): void {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection?.removeAllRanges();
  selection?.addRange(range);
}

/** A secret shown in full: right after it was issued, or when the clipboard refused it. */
export function TokenSecret({ secret, testId = 'issued-token', label = 'Login token' }: { secret: string; testId?: string; label?: string }) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    if (ref.current) selectText(ref.current);
  }, [secret]);
  return (
    <code ref={ref} className="token-secret" data-testid={testId} onClick={(e) => selectText(e.currentTarget)} tabIndex={0} aria-label={label}>
      {secret}
    </code>
  );
}

/** A newly issued secret, prominently, with its copy button and what to do with it (`note`). */
export function IssuedSecret({
  title,
  secret,
  subtitle = 'Shown in full here; copy it now.',
  copyLabel = 'Copy token',
  secretLabel,
  note,
  children,
}: {
  title: string;
  secret: string;
  subtitle?: string;
  copyLabel?: string;
  secretLabel?: string;
  note: ReactNode;
  children?: ReactNode;
}) {
  const { copied, mark } = useCopied();
  const [refused, setRefused] = useState(false);
  return (
    <div className="issued-token" data-testid="issued-token-panel">
      <Group gap="sm" wrap="nowrap" mb="xs">
        <ThemeIcon variant="light" color="teal" radius="xl" size={34}>
          <KeyIcon size={18} />
        </ThemeIcon>
        <div>
          <Text fw={650}>{title}</Text>
          <Text size="sm" c="dimmed">
            {subtitle}
          </Text>
        </div>
      </Group>
      <Group gap="xs" wrap="nowrap" align="stretch">
        <TokenSecret secret={secret} label={secretLabel} />
        <CopyButton
          copied={copied === 'secret'}
          label={copyLabel}
          onClick={async () => {
            const ok = await writeClipboard(secret);
            setRefused(!ok);
            if (ok) mark('secret');
          }}
          h="auto"
        />
      </Group>
      {refused ? (
        <Text size="xs" c="red.8" mt={6} role="status">
          The browser did not allow copying: the secret is selected, press Ctrl+C (⌘C on a Mac).
        </Text>
      ) : null}
      <Text size="sm" mt="sm">
        {note}
      </Text>
      {children}
    </div>
  );
}

/** A newly issued login token, with what to do with it. */
export function IssuedToken({ title, memberName, secret, children }: { title: string; memberName: string; secret: string; children?: ReactNode }) {
  return (
    <IssuedSecret
      title={title}
      secret={secret}
      note={`Send it to ${memberName} by email, SMS or any messaging app. They paste it into the desktop app to sign in to their own team account; it does not open this portal.`}
    >
      {children}
    </IssuedSecret>
  );
}

/** The value of a datetime-local input ("2030-01-31T09:30", local time) as an instant; null when empty, undefined when unreadable. */
export function instantOf(local: string): string | null | undefined {
  if (local.trim() === '') return null;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
