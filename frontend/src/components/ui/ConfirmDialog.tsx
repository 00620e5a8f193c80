import type { ReactNode } from "react";

import { Button } from "./Button";
import { ErrorMessage } from "./ErrorMessage";
import { Modal } from "./Modal";

/** "Are you sure?" for a destructive action: Cancel, a danger button, and the API's error in words. */
export function ConfirmDialog({
  open,
  onClose,
  onConfirm,
  title,
  description,
  confirmLabel,
  cancelLabel = "Cancel",
  pending = false,
  error,
  testId,
  confirmTestId,
}: {
  open: boolean;
  onClose: () => void;
  onConfirm: () => void;
  title: ReactNode;
  description?: ReactNode;
  confirmLabel: ReactNode;
  cancelLabel?: ReactNode;
  pending?: boolean;
  error?: unknown;
  testId?: string;
  confirmTestId?: string;
}) {
  return (
    <Modal
      open={open}
      onClose={onClose}
      title={title}
      description={description}
      testId={testId}
      footer={
        <>
          <Button onClick={onClose}>{cancelLabel}</Button>
          <Button variant="danger" loading={pending} data-testid={confirmTestId} onClick={onConfirm}>
            {confirmLabel}
          </Button>
        </>
      }
    >
      {error ? <ErrorMessage error={error} /> : null}
    </Modal>
  );
}
