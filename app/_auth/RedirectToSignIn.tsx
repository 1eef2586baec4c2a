"use client";
import { Center, Loader } from "@mantine/core";
import { useEffect } from "react";

/** Sends an anonymous visitor to the sign-in page, to come back to the page they asked for. */
export function RedirectToSignIn() {
  useEffect(() => {
    const next = window.location.pathname + window.location.search;
    window.location.replace(`/sign-in?next=${encodeURIComponent(next)}`);
  }, []);
  return (
    <Center mih="100vh">
      <Loader aria-label="Redirecting to sign-in" />
    </Center>
  );
}
