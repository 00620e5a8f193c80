import { useEffect, useState } from "react";

import { Button, type ButtonProps } from "./Button";

/** Copy text to the clipboard (falling back to a hidden textarea on non-secure origins). */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  try {
    if (!document.execCommand("copy")) throw new Error("The browser refused to copy: select the text and copy it by hand.");
  } finally {
    area.remove();
  }
}

export function CopyButton({
  text,
  label = "Copy",
  copiedLabel = "Copied",
  ...rest
}: Omit<ButtonProps, "onClick"> & { text: string | (() => string | Promise<string>); label?: string; copiedLabel?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const timer = window.setTimeout(() => setState("idle"), 2000);
    return () => window.clearTimeout(timer);
  }, [state]);
  return (
    <Button
      size="sm"
      {...rest}
      onClick={async () => {
        try {
          await copyText(typeof text === "function" ? await text() : text);
          setState("copied");
        } catch {
          setState("failed");
        }
      }}
    >
      <span aria-live="polite" className="inline-block min-w-[3.5rem] text-center">
        {state === "copied" ? copiedLabel : state === "failed" ? "Copy failed" : label}
      </span>
    </Button>
  );
}

/** Save text as a file in the browser. */
export function downloadText(filename: string, text: string, mime = "text/plain"): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${mime};charset=utf-8` }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}
