"use client";
import { useParams } from "next/navigation";
import { NotFoundCard, pathPart } from "../../../../../_components/NotFoundCard";

/** /models/[name]/v/[version] when the version is not a number, or the model has no such version (readOrNotFound). */
export default function VersionNotFound() {
  const params = useParams<{ name: string; version: string }>();
  const name = pathPart(params.name);
  const version = pathPart(params.version);
  const numbered = /^[1-9]\d*$/.test(version);
  return (
    <NotFoundCard
      title={numbered ? `Version ${version} of “${name}” does not exist` : `“${version}” is not a version number`}
      description={numbered ? `The model “${name}” has no version ${version}, or no model has that name. Its page lists the versions it has.` : "A version page's address ends in the version's number: /models/<name>/v/3."}
      back={{ href: `/models/${encodeURIComponent(name)}`, label: `Versions of ${name}` }}
    />
  );
}
