"use client";
import { useParams } from "next/navigation";
import { NotFoundCard, pathPart } from "../../../_components/NotFoundCard";

/** /experiments/[key] and /experiments/[key]/edit when no experiment has that key (readOrNotFound). */
export default function ExperimentNotFound() {
  const key = pathPart(useParams<{ key: string }>().key);
  return <NotFoundCard title={`Experiment “${key}” does not exist`} description="No experiment has this key. Keys are case-sensitive; the Experiments page lists every experiment, drafts and shipped ones included." back={{ href: "/experiments", label: "All experiments" }} />;
}
