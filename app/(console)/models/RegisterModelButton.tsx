"use client";
import { GuardedButton } from "@/app/_auth/GuardedButton";
import { Alert, Button, Group, Modal, Select, Stack, TextInput, Textarea } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { useTRPC } from "../../_trpc/client";

export function RegisterModelButton({ surfaces }: { surfaces: string[] }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [opened, { open, close }] = useDisclosure(false);
  const [name, setName] = useState("");
  const [owner, setOwner] = useState("");
  const [description, setDescription] = useState("");
  const [surface, setSurface] = useState<string | null>(null);
  const create = useMutation(trpc.models.create.mutationOptions({
    onSuccess: (model) => {
      close();
      router.push(`/models/${model.name}`);
    },
  }));
  return (
    <>
      <GuardedButton permission="models.write" onClick={open}>Register model</GuardedButton>
      <Modal opened={opened} onClose={close} title="Register a model">
        <Stack>
          <TextInput label="Name" description="lower-case, e.g. search-gbdt" value={name} onChange={(e) => setName(e.currentTarget.value)} required />
          <TextInput label="Owner" placeholder="ml@rerank.local" value={owner} onChange={(e) => setOwner(e.currentTarget.value)} required />
          <Textarea label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
          <Select label="Surface" data={surfaces} value={surface} onChange={setSurface} clearable />
          {create.error && <Alert color="red">{create.error.message}</Alert>}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>Cancel</Button>
            <Button loading={create.isPending} onClick={() => create.mutate({ name, owner, description, surface: surface ?? undefined })}>Register</Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
