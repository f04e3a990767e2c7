import { Alert, Select, Stack, Text, type SelectProps } from '@mantine/core';
import { useCallback, useMemo, useState, type ReactNode } from 'react';
import { useMutation } from '@tanstack/react-query';
import { TesseraError } from '../client/sdk.ts';
import { countryOptions } from './countries.ts';

/** A problem that belongs to no input of the form: shown in an alert above the button. */
export interface FormProblem {
  title: string;
  detail?: string | undefined;
  status?: number | undefined;
  code?: string | undefined;
  /** `notice`: nothing went wrong, the person stopped (a browser prompt they closed, say); shown calmly. */
  tone?: 'notice' | undefined;
}

/** A failure the portal words itself rather than the server (a browser prompt that gave no answer, say). */
export class FormProblemError extends Error {
  readonly problem: FormProblem;
  constructor(problem: FormProblem) {
    super(problem.detail ?? problem.title);
    this.name = 'FormProblemError';
    this.problem = problem;
  }
}

export interface FormErrors<F extends string> {
  /** Props for a Mantine input: its error (a red box under it), with a stable test id. */
  field(name: F): { error: ReactNode; errorProps: Record<string, string> };
  problem: FormProblem | null;
  /** Maps a failed call onto the form: field errors next to their inputs, the rest in the alert. */
  capture(error: unknown): void;
  /** Field errors found before calling the server (a check the contract cannot make alone). */
  reject(messages: Partial<Record<F, string>>): void;
  clearField(name: F): void;
  reset(): void;
}

/**
 * Error state of a form. The server's problem document is the source of truth: each entry of
 * `errors` lands next to the input of the same name; anything else lands in the form's alert.
 */
export function useFormErrors<F extends string>(fields: readonly F[]): FormErrors<F> {
  const [byField, setByField] = useState<Partial<Record<F, string[]>>>({});
  const [problem, setProblem] = useState<FormProblem | null>(null);
  const known = useMemo(() => new Set<string>(fields), [fields]);

  const capture = useCallback(
    (error: unknown) => {
      if (error instanceof FormProblemError) {
        setByField({});
        setProblem(error.problem);
        return;
      }
      if (!(error instanceof TesseraError)) {
        setByField({});
        setProblem({ title: 'Tessera could not be reached', detail: 'Check your connection and try again.' });
        return;
      }
      const next: Partial<Record<F, string[]>> = {};
      const other: string[] = [];
      for (const fe of error.fieldErrors) {
        if (known.has(fe.field)) (next[fe.field as F] ??= []).push(fe.message);
        else other.push(fe.message);
      }
      setByField(next);
      const mapped = Object.keys(next).length > 0;
      // a validation problem fully explained next to the inputs needs no alert
      if (mapped && other.length === 0) setProblem(null);
      else {
        // field errors the form has no input for: listed, unless the detail already says them
        const detail = error.problem.detail ?? '';
        const unsaid = other.filter((m) => !detail.toLowerCase().includes(m.toLowerCase()));
        const generic = /^some fields are invalid\.?$/i.test(detail);
        const text = [generic && unsaid.length > 0 ? '' : detail, ...unsaid.map((m) => `${m}.`)].filter(Boolean).join(' ');
        setProblem({ title: error.problem.title, detail: text, status: error.status, code: error.code });
      }
    },
    [known],
  );

  return {
    field: (name) => {
      const messages = byField[name];
      return {
        error: messages && messages.length > 0 ? messages.map((m, i) => <span key={i} className="field-error-line">{m}</span>) : undefined,
        errorProps: { className: 'field-error', 'data-testid': `field-error-${name}`, role: 'alert' },
      };
    },
    problem,
    capture,
    reject: (messages) => {
      const next: Partial<Record<F, string[]>> = {};
      for (const [name, message] of Object.entries(messages) as [F, string | undefined][]) if (message) next[name] = [message];
      setByField(next);
      setProblem(null);
    },
    clearField: (name) => setByField((current) => (current[name] ? { ...current, [name]: undefined } : current)),
    reset: () => {
      setByField({});
      setProblem(null);
    },
  };
}

/**
 * The call behind a form: its errors are cleared when the call starts, a failure lands on the
 * form (next to the inputs or in its alert) and then runs `onError`, a success runs `onSuccess`.
 */
export function useFormMutation<F extends string, TData, TVariables = void>(
  fields: readonly F[],
  options: { mutationFn: (variables: TVariables) => Promise<TData>; onSuccess: (data: TData) => unknown; onError?: (error: Error) => unknown },
) {
  const errors = useFormErrors(fields);
  const mutation = useMutation<TData, Error, TVariables>({
    mutationFn: options.mutationFn,
    onMutate: () => errors.reset(),
    onError: (error) => {
      errors.capture(error);
      options.onError?.(error);
    },
    onSuccess: (data) => options.onSuccess(data),
  });
  return { errors, mutation };
}

/** "Email or password is incorrect." says nothing more than its title without the full stop. */
function sameText(a: string, b: string): boolean {
  const plain = (s: string) => s.trim().replace(/[.!]+$/, '').toLowerCase();
  return plain(a) === plain(b);
}

export function FormAlert({ problem }: { problem: FormProblem | null }) {
  if (!problem) return null;
  if (problem.tone === 'notice') {
    return (
      <Alert color="gray" variant="light" title={problem.title} data-testid="form-notice" role="status">
        {problem.detail ? <Text size="sm">{problem.detail}</Text> : null}
      </Alert>
    );
  }
  return (
    <Alert color="red" variant="light" title={problem.title} data-testid="form-alert" role="alert">
      {problem.detail && !sameText(problem.detail, problem.title) ? <Text size="sm">{problem.detail}</Text> : null}
    </Alert>
  );
}

/** Searchable select of ISO 3166-1 alpha-2 countries; the value is the code (e.g. DE). */
export function CountrySelect(props: Omit<SelectProps, 'data'>) {
  const data = useMemo(() => countryOptions(), []);
  return (
    <Select
      searchable
      clearable
      placeholder="Search for a country"
      nothingFoundMessage="No country matches"
      maxDropdownHeight={280}
      comboboxProps={{ shadow: 'md' }}
      // Mantine hides its clear button from assistive technology; this one is a real button
      clearButtonProps={{ 'aria-label': `Clear ${typeof props.label === 'string' ? props.label.toLowerCase() : 'country'}`, 'aria-hidden': false }}
      {...props}
      data={data}
    />
  );
}

export function FormStack({ children, onSubmit, label }: { children: ReactNode; onSubmit: () => void; label: string }) {
  return (
    <form
      aria-label={label}
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit();
      }}
    >
      <Stack gap="md">{children}</Stack>
    </form>
  );
}
