"use client";
import { useSearchParams } from "next/navigation";
import { NotFoundCard } from "../../../_components/NotFoundCard";

/** /shadow/compare?request=…&version=… when no mirrored request has that id and candidate version (readOrNotFound). */
export default function ComparisonNotFound() {
  const request = useSearchParams().get("request") ?? "";
  return (
    <NotFoundCard
      title={`No shadow comparison of request “${request}”`}
      description="No mirrored request has this id and candidate version within the days the log keeps: it was not sampled for shadow scoring, the candidate differs, or its day was dropped by retention."
      back={{ href: "/shadow", label: "Back to the Shadow page" }}
    />
  );
}
