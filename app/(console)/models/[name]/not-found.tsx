"use client";
import { useParams } from "next/navigation";
import { NotFoundCard, pathPart } from "../../../_components/NotFoundCard";

/** /models/[name] when no model has that name (readOrNotFound). */
export default function ModelNotFound() {
  const name = pathPart(useParams<{ name: string }>().name);
  return <NotFoundCard title={`Model “${name}” does not exist`} description="No registered model has this name. Model names are case-sensitive; the Models page lists every registered model." back={{ href: "/models", label: "All models" }} />;
}
