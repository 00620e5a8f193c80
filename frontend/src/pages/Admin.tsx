import { useSearchParams } from "react-router-dom";

import { useMe } from "../api/queries/auth";
import { EmptyState, PageHeader, TabPanel, Tabs } from "../components/ui";
import { ApiKeysPanel } from "./admin/ApiKeysPanel";
import { EndpointsPanel } from "./admin/EndpointsPanel";
import { SettingsPanel } from "./admin/SettingsPanel";
import { UsersPanel } from "./admin/UsersPanel";
import { WebhooksPanel } from "./admin/WebhooksPanel";

type TabId = "endpoints" | "settings" | "api-keys" | "users" | "webhooks";
const TABS: { id: TabId; label: string }[] = [
  { id: "endpoints", label: "LLM endpoints" },
  { id: "settings", label: "Settings" },
  { id: "api-keys", label: "API keys" },
  { id: "users", label: "Users" },
  { id: "webhooks", label: "Webhooks" },
];

export default function AdminPage() {
  const me = useMe();
  const [search, setSearch] = useSearchParams();
  const tab = (TABS.find((t) => t.id === search.get("tab"))?.id ?? "endpoints") as TabId;

  if (me.data && !me.data.is_admin) {
    return <EmptyState title="Admins only" description="Ask an admin to change settings, endpoints, API keys or users." />;
  }
  return (
    <>
      <PageHeader title="Admin" description="LLM endpoints, server settings, API keys for scripts and MCP, user accounts and webhooks." />
      <Tabs id="admin-sections" label="Admin sections" value={tab} onChange={(next) => setSearch({ tab: next }, { replace: true })} tabs={TABS} />
      <TabPanel tabsId="admin-sections" value={tab}>
        {tab === "endpoints" && <EndpointsPanel />}
        {tab === "settings" && <SettingsPanel />}
        {tab === "api-keys" && <ApiKeysPanel />}
        {tab === "users" && <UsersPanel />}
        {tab === "webhooks" && <WebhooksPanel />}
      </TabPanel>
    </>
  );
}
