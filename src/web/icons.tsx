/** Small line icons of the portal (24×24 strokes, drawn in the current colour). */
import type { ReactNode } from 'react';

function Icon({ size = 16, children, width = 2 }: { size?: number; children: ReactNode; width?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth={width} strokeLinecap="round" strokeLinejoin="round">
      {children}
    </svg>
  );
}

export function PlusIcon({ size }: { size?: number }) {
  return (
    <Icon size={size} width={2.2}>
      <path d="M12 5v14M5 12h14" />
    </Icon>
  );
}

export function TrashIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <path d="M4 7h16M10 11v6M14 11v6M6 7l1 12a2 2 0 002 2h6a2 2 0 002-2l1-12M9 7V4.5A1.5 1.5 0 0110.5 3h3A1.5 1.5 0 0115 4.5V7" />
    </Icon>
  );
}

export function CopyIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <rect x="8" y="8" width="12" height="12" rx="2" />
      <path d="M16 8V6a2 2 0 00-2-2H6a2 2 0 00-2 2v8a2 2 0 002 2h2" />
    </Icon>
  );
}

export function CheckIcon({ size }: { size?: number }) {
  return (
    <Icon size={size} width={2.4}>
      <path d="M5 12.5l4.5 4.5L19 7.5" />
    </Icon>
  );
}

export function KeyIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <circle cx="8" cy="15" r="4" />
      <path d="M10.85 12.15L19 4M16 7l2.5 2.5M14 9l2 2" />
    </Icon>
  );
}

export function PencilIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <path d="M4 20h4L19 9a2.83 2.83 0 00-4-4L4 16v4zM13.5 6.5l4 4" />
    </Icon>
  );
}

export function UsersIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <circle cx="9" cy="8" r="3.5" />
      <path d="M2.5 20a6.5 6.5 0 0113 0M16 4.6a3.5 3.5 0 010 6.8M18 14.2a6.5 6.5 0 013.5 5.8" />
    </Icon>
  );
}

export function SearchIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <circle cx="11" cy="11" r="6.5" />
      <path d="M16 16l4.5 4.5" />
    </Icon>
  );
}

export function BuildingIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <path d="M4 21V5a2 2 0 012-2h8a2 2 0 012 2v16M16 9h2a2 2 0 012 2v10M2.5 21h19M8 7h4M8 11h4M8 15h4" />
    </Icon>
  );
}

export function DeviceIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <rect x="3" y="4" width="18" height="7" rx="1.5" />
      <rect x="3" y="13" width="18" height="7" rx="1.5" />
      <path d="M7 7.5h.01M7 16.5h.01M11 7.5h6M11 16.5h6" />
    </Icon>
  );
}

export function LayersIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <path d="M12 3l9 5-9 5-9-5 9-5z" />
      <path d="M3 13l9 5 9-5" />
    </Icon>
  );
}

export function RefreshIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <path d="M20 11a8 8 0 00-14.6-4.5M4 4v3.5h3.5M4 13a8 8 0 0014.6 4.5M20 20v-3.5h-3.5" />
    </Icon>
  );
}

/** A plug: an open connection from a desktop app to a device. */
export function PlugIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <path d="M9 3v4M15 3v4M6.5 7h11v4a5.5 5.5 0 01-11 0V7zM12 16.5V21" />
    </Icon>
  );
}

export function ChevronIcon({ size }: { size?: number }) {
  return (
    <Icon size={size} width={2.2}>
      <path d="M6 9l6 6 6-6" />
    </Icon>
  );
}

export function BurgerIcon({ size }: { size?: number }) {
  return (
    <Icon size={size} width={2.2}>
      <path d="M4 7h16M4 12h16M4 17h16" />
    </Icon>
  );
}

export function ExitIcon({ size }: { size?: number }) {
  return (
    <Icon size={size}>
      <path d="M15 4h3a2 2 0 012 2v12a2 2 0 01-2 2h-3M10 17l5-5-5-5M15 12H4" />
    </Icon>
  );
}
