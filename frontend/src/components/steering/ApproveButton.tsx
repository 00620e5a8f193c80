import { useState } from "react";

import { useApproveRun } from "../../api/queries/steering";
import { Button, ErrorMessage, Field, Input, Modal, Textarea } from "../ui";

/** Approve: save the run's configuration to the project; the experiment's exports then serve it. */
export function ApproveButton({
  runId,
  defaultName,
  disabled,
  label = "Approve",
  size = "md",
}: {
  runId: string;
  defaultName: string;
  disabled?: boolean;
  label?: string;
  size?: "sm" | "md";
}) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState(defaultName);
  const [note, setNote] = useState("");
  const [done, setDone] = useState(false);
  const approve = useApproveRun(runId);
  const submit = () =>
    approve.mutate(note.trim() ? { name, note } : { name }, {
      onSuccess: () => {
        setOpen(false);
        setDone(true);
      },
    });
  return (
    <>
      <Button variant={done ? "secondary" : "primary"} size={size} disabled={disabled} onClick={() => { setName(defaultName); setOpen(true); }} data-testid="run-approve"
        title="Save this configuration to the project; exports of the experiment use it.">
        {done ? "Approved ✓" : label}
      </Button>
      <Modal
        open={open}
        onClose={() => setOpen(false)}
        title="Approve this configuration"
        description="It is saved to the project's configurations, and exports of this experiment serve it until a later approval."
        testId="approve-dialog"
        footer={
          <>
            <Button onClick={() => setOpen(false)}>Cancel</Button>
            <Button variant="primary" loading={approve.isPending} disabled={!name.trim()} onClick={submit}
              data-testid="approve-confirm">
              Approve
            </Button>
          </>
        }
      >
        <div className="space-y-3">
          <Field label="Name">
            <Input value={name} maxLength={200} onChange={(e) => setName(e.target.value)} data-testid="approve-name" data-autofocus />
          </Field>
          <Field label="Note" hint="Why this one (optional).">
            <Textarea value={note} maxLength={20000} onChange={(e) => setNote(e.target.value)} data-testid="approve-note" />
          </Field>
          <ErrorMessage error={approve.error} title="Could not approve" />
        </div>
      </Modal>
    </>
  );
}
