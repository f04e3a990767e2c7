import type { Money } from '../../../shared/billing.ts';

/**
 * The seam to a payment provider. Tessera decides what is owed (a plan's price for a period) and
 * keeps the invoice; the provider collects it. The default adapter needs nothing to run: it
 * records each invoice as open, to be settled outside Tessera (a bank transfer). A real provider
 * (Stripe, Paddle, …) implements the same interface; docs/billing.md says how.
 */

export interface InvoiceDraft {
  accountId: string;
  invoiceId: string;
  /** The invoice number printed for the customer, sequential within the account. */
  number: string;
  planId: string;
  planName: string;
  periodStart: Date;
  periodEnd: Date;
  total: Money;
  billingEmail: string | null;
}

export interface PaymentProvider {
  /** Stored with every invoice it handles. */
  readonly name: string;
  /**
   * Called inside the plan change's transaction, before it commits: a refusal (a declined card)
   * throws and nothing changes. Answers the invoice's status and the provider's reference to it.
   */
  invoice(draft: InvoiceDraft): Promise<{ status: 'open' | 'paid'; reference: string | null }>;
}

/** The default: invoices are recorded, open, for payment outside Tessera. */
export const recordingProvider: PaymentProvider = {
  name: 'manual',
  async invoice() {
    return { status: 'open', reference: null };
  },
};
