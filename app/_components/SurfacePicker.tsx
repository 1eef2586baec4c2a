"use client";
import { ScrollArea, SegmentedControl, Select, type MantineSize } from "@mantine/core";

/**
 * Picks one surface of many: a strip of tabs (SegmentedControl) from the `sm` breakpoint up, which
 * scrolls sideways when the surfaces do not fit its row, and a Select below it, where even three
 * surfaces' tabs pass a phone's width. (Tabs alone were clipped at 390 px: the later surfaces could
 * not be reached.) Both show the same `value`; only one is displayed (CSS), so only one is in the
 * accessibility tree, under `label`. The Select takes a whole row of its parent (flex-basis 100%: in a
 * row that wraps, it goes on a line of its own, full width), so a surface's name is not cut; at 390 px
 * it was ~185 px wide beside the Shadow page's window control. A parent row must wrap below `sm`.
 */
export function SurfacePicker({ surfaces, value, onChange, label, size = "sm" }: {
  surfaces: ReadonlyArray<{ key: string; name: string }>;
  value: string;
  onChange: (surface: string) => void;
  label: string;
  size?: MantineSize;
}) {
  const data = surfaces.map((s) => ({ value: s.key, label: s.name }));
  return (
    <>
      <ScrollArea type="auto" scrollbars="x" offsetScrollbars="x" visibleFrom="sm" style={{ minWidth: 0, maxWidth: "100%" }} data-testid="surface-tabs">
        <SegmentedControl aria-label={label} data={data} value={value} onChange={onChange} size={size} />
      </ScrollArea>
      <Select
        hiddenFrom="sm" aria-label={label} data={data} value={value} onChange={(v) => v !== null && onChange(v)}
        allowDeselect={false} size={size} w="100%" style={{ flexBasis: "100%" }} comboboxProps={{ withinPortal: true }} data-testid="surface-select"
      />
    </>
  );
}
