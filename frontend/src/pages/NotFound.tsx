import { ButtonLink, EmptyState } from "../components/ui";

export default function NotFoundPage() {
  return (
    <EmptyState
      title="Page not found"
      description="The address does not match any page of the dashboard."
      action={<ButtonLink to="/" variant="primary">Go to the dashboard</ButtonLink>}
    />
  );
}
